"""The admin's sign-in, limited as API credentials are: after too many wrong passwords from one
address (uploads.throttle), its sign-in form answers 429 with Retry-After until the window ends."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from uploads import throttle


def count_failure(sender, credentials, request=None, **kwargs):
    """user_login_failed: a wrong password (or unknown user) from this request's address."""
    if request is not None:  # authenticate() called outside a request (a shell) has no address
        throttle.failed(request)


@never_cache
def admin_login(request, **kwargs):
    """admin.site.login, unless this address is locked out: then the password is not checked at all."""
    if request.method == "POST":
        wait = throttle.retry_after(request)
        if wait is not None:
            context = {
                **admin.site.each_context(request),
                "title": "Too many failed sign-ins",
                "message": throttle.message(wait),
            }
            response = TemplateResponse(request, "admin/too_many_failures.html", context, status=429)
            response["Retry-After"] = str(wait)
            return response
    return admin.site.login(request, **kwargs)
