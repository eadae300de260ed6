"""Who is uploading: an API token, an auth code, a signed-in user, or anyone."""

from dataclasses import dataclass

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from uploads.models import ApiToken, UploadCode


@dataclass
class Uploader:
    user: object = None
    token: ApiToken | None = None
    code: UploadCode | None = None

    def can(self, permission: str) -> bool:
        if self.token is not None:
            return getattr(self.token, f"can_{permission}")
        if self.user is not None:
            return permission == "upload" or self.user.is_staff
        return permission == "upload"


class NotAuthorized(Exception):
    pass


def _csrf_ok(request) -> bool:
    # The API is exempt from CSRF for token and code clients; a browser session
    # is a cookie, so a request that relies on it must prove it came from our page.
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is None


def identify(request) -> Uploader:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = ApiToken.matching(header[7:].strip())
        if token is None:
            raise NotAuthorized("The API token is not valid or has expired. Create a new one in the admin.")
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return Uploader(token=token)
    code = request.GET.get("authCode") or request.headers.get("authCode") or ""
    if code:
        found = UploadCode.matching(code)
        if found is None:
            raise NotAuthorized("The auth code is wrong. Ask the site's staff for the current code.")
        UploadCode.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        return Uploader(code=found)
    if request.user.is_authenticated and request.user.is_active and _csrf_ok(request):
        return Uploader(user=request.user)
    if settings.IMGBED_PUBLIC_UPLOADS:
        return Uploader()
    raise NotAuthorized(
        "Uploading needs an auth code (authCode) or an API token (Authorization: Bearer ...). "
        "Ask the site's staff for one."
    )
