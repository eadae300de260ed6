"""Who is uploading: an API token, an auth code, a signed-in user, or anyone."""

import copy
import datetime
from dataclasses import dataclass

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from uploads import throttle
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
    """No credential that lets the request in (401)."""

    status = 401
    retry_after = None


class TooManyFailures(NotAuthorized):
    """This address sent too many wrong credentials lately (429, with Retry-After)."""

    status = 429

    def __init__(self, seconds: int):
        super().__init__(throttle.message(seconds))
        self.retry_after = seconds


# "Last used" is for staff spotting unused credentials, not an audit log: a
# busy client does not need a write on every upload to keep it true.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def _touch(credential):
    now = timezone.now()
    if credential.last_used_at is None or now - credential.last_used_at >= LAST_USED_RESOLUTION:
        type(credential).objects.filter(pk=credential.pk).update(last_used_at=now)


def _csrf_ok(request) -> bool:
    # The API is exempt from CSRF for token and code clients; a browser session
    # is a cookie, so a request that relies on it must prove it came from our page.
    # Django's check would read the token from the POST body first, parsing the
    # upload before the view sets its staging handler: asked about a PUT, it
    # reads the X-CSRFToken header only (the page sends it) and checks the same.
    probe = copy.copy(request)
    probe.method = "PUT"
    return CsrfViewMiddleware(lambda r: None).process_view(probe, None, (), {}) is None


def bearer_token(request) -> str | None:
    """The API token in the Authorization header: `Bearer <token>`, or the bare token as the whole
    value (ImgBed's clients send either). A value with a space in it is another scheme (Basic...)."""
    header = request.headers.get("Authorization", "").strip()
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if header and " " not in header:
        return header
    return None


def identify(request, *, reads_only=False) -> Uploader:
    """Who sent the request. A browser session counts only with the CSRF header, unless the
    caller says the request only reads (`reads_only`): another site's page can make a browser
    send the cookie, but cannot read the answer."""
    bearer = bearer_token(request)
    code = request.GET.get("authCode") or request.headers.get("authCode") or ""
    if bearer is not None or code:
        # Before any lookup: a blocked address learns nothing, not even that a guess was right.
        wait = throttle.retry_after(request)
        if wait is not None:
            raise TooManyFailures(wait)
    if bearer is not None:
        token = ApiToken.matching(bearer)
        if token is None:
            throttle.failed(request)
            raise NotAuthorized("The API token is not valid or has expired. Create a new one in the admin.")
        _touch(token)
        return Uploader(token=token)
    if code:
        found = UploadCode.matching(code)
        if found is None:
            throttle.failed(request)
            raise NotAuthorized("The auth code is wrong. Ask the site's staff for the current code.")
        _touch(found)
        return Uploader(code=found)
    if request.user.is_authenticated and request.user.is_active and (reads_only or _csrf_ok(request)):
        return Uploader(user=request.user)
    if settings.IMGBED_PUBLIC_UPLOADS:
        return Uploader()
    raise NotAuthorized(
        "Uploading needs an auth code (authCode) or an API token (Authorization: Bearer ...). "
        "Ask the site's staff for one."
    )
