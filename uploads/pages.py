from django.conf import settings
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from uploads.naming import NAME_TYPES


@ensure_csrf_cookie
def upload_page(request):
    signed_in = request.user.is_authenticated
    context = {
        "needs_code": not signed_in and not settings.IMGBED_PUBLIC_UPLOADS,
        "signed_in": signed_in,
        "name_types": NAME_TYPES,
        "max_size": settings.IMGBED_MAX_UPLOAD_SIZE,
        "site_url": settings.SITE_URL,
    }
    return render(request, "uploads/upload.html", context)
