"""A small Microsoft Graph client for one drive: the calls this site makes.

It knows nothing of channels or the database: it gets a base URL and an
access token, and raises channel errors that say what happened.
"""

import requests
from django.conf import settings

from channels.errors import ChannelError, PermanentError, TransientError


class AccessTokenExpired(ChannelError):
    """Graph answered 401: get a fresh access token and try once more."""


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_from_response(response) -> ChannelError:
    try:
        body = response.json().get("error") or {}
    except ValueError:
        body = {}
    code = body.get("code", "") if isinstance(body, dict) else ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    status = response.status_code
    what = f"Microsoft Graph answered {status} {code}".rstrip() + (f": {message}" if message else "")
    if status == 401:
        return AccessTokenExpired(what, code=code)
    if status == 429 or status in (500, 502, 503, 504, 509):
        return TransientError(f"{what}. Will retry later.", retry_after=_retry_after(response), code=code)
    if status == 507 or code == "quotaLimitReached":
        return PermanentError(
            f"{what}. The OneDrive is full: free space or add storage.", code="quotaLimitReached"
        )
    if status == 403:
        return PermanentError(
            f"{what}. The account does not allow this: check the Files.ReadWrite.All permission "
            "in Microsoft Entra, then click Get Token again.",
            code=code or "accessDenied",
        )
    return PermanentError(what, code=code)


class Graph:
    def __init__(self, base_url: str, access_token: str, session: requests.Session | None = None):
        self.base_url = base_url
        self._token = access_token
        self.session = session or requests.Session()

    def __repr__(self):
        return f"Graph({self.base_url!r})"

    def request(self, method, path, **kwargs):
        headers = kwargs.pop("headers", {})
        headers["Authorization"] = f"Bearer {self._token}"
        kwargs.setdefault("timeout", settings.ONEDRIVE_HTTP_TIMEOUT)
        try:
            response = self.session.request(method, self.base_url + path, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise TransientError(
                f"Cannot reach Microsoft Graph at {self.base_url}: {type(exc).__name__}. Will retry later."
            ) from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def me(self) -> dict:
        return self.request("GET", "/me").json()

    def drive(self) -> dict:
        return self.request("GET", "/me/drive").json()
