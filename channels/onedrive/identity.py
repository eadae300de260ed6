"""Sign-in and token redemption with the Microsoft identity platform (msal).

Token responses are returned as `Tokens`; failures are raised as channel
errors whose message tells a person what to do. Nothing here logs a token.
"""

import datetime
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from django.conf import settings
from django.utils import timezone

from channels.errors import ChannelError, ConfigurationError, ReauthorizationRequired, TransientError
from channels.onedrive import endpoints

if TYPE_CHECKING:
    import msal

SIGN_IN_AGAIN = "Click Get Token on the channel and sign in again."
# After a sign-in's code was sent: it may be spent, and the state is, so only a new sign-in goes on.
SIGN_IN_FAILED = "Nothing was saved. Click Get Token again."

# AADSTS code -> (error class, what to tell a person).
AADSTS = {
    54005: (ChannelError, "This sign-in code was already used. Click Get Token again."),
    70000: (
        ChannelError,
        "The sign-in code expired or is not valid (codes live about 10 minutes). Click Get Token again.",
    ),
    70008: (ReauthorizationRequired, "The refresh token has expired or was revoked. " + SIGN_IN_AGAIN),
    700082: (
        ReauthorizationRequired,
        "The refresh token expired because it was not used for 90 days. " + SIGN_IN_AGAIN,
    ),
    50173: (
        ReauthorizationRequired,
        "The account's sign-in was revoked (for example after a password reset). " + SIGN_IN_AGAIN,
    ),
    50076: (
        ReauthorizationRequired,
        "The account now requires multi-factor authentication. " + SIGN_IN_AGAIN,
    ),
    501481: (
        ChannelError,
        "The sign-in's PKCE check failed. Start again with Get Token on this site; do not reuse an old sign-in link.",
    ),
    7000215: (
        ConfigurationError,
        "Microsoft rejected the client secret. Paste the secret's Value, not its Secret ID "
        "(Certificates & secrets in Microsoft Entra), then click Get Token again.",
    ),
    7000222: (
        ConfigurationError,
        "The client secret has expired. Create a new client secret under Certificates & secrets "
        "in Microsoft Entra, paste its Value into the channel, then click Get Token again.",
    ),
    700016: (
        ConfigurationError,
        "Microsoft does not know this Client ID in that directory. Check the Client ID (the "
        "Application (client) ID) and the Tenant ID: consumers for personal accounts, common for "
        "personal and work or school accounts, or the Directory (tenant) ID.",
    ),
    50194: (
        ConfigurationError,
        "The app is registered for one organization only, so Tenant ID cannot be common. Use the "
        "Directory (tenant) ID from the app's Overview page.",
    ),
    9002332: (
        ConfigurationError,
        "The app is registered for work or school accounts only, so Tenant ID cannot be consumers. "
        "Use organizations or the Directory (tenant) ID, or let the app registration accept "
        "personal accounts.",
    ),
    50011: (
        ConfigurationError,
        "The redirect URI does not match the app registration. Add the redirect URI shown on the "
        "channel's page under Authentication > Web in Microsoft Entra.",
    ),
    65001: (
        ChannelError,
        "The permissions were not granted. Click Get Token again and accept the permissions.",
    ),
}


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: datetime.datetime
    id_claims: dict

    def __repr__(self):  # keep tokens out of tracebacks and logs
        return f"Tokens(expires_at={self.expires_at!r})"


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def error_from_response(result: dict) -> ChannelError:
    """Turn an identity-platform error body into the error a person can act on."""
    codes = result.get("error_codes") or []
    if not codes:
        match = re.match(r"AADSTS(\d+)", result.get("error_description") or "")
        codes = [int(match.group(1))] if match else []
    for code in codes:
        if code in AADSTS:
            cls, message = AADSTS[code]
            return cls(f"{message} (AADSTS{code})", code=f"AADSTS{code}")
    error = result.get("error") or "unknown_error"
    detail = _first_line(result.get("error_description") or "")
    if error in ("temporarily_unavailable", "server_error") or result.get("_status", 0) >= 500:
        return TransientError(
            f"Microsoft's sign-in service is unavailable: {detail or error}. Try again later."
        )
    if error == "invalid_grant":
        return ReauthorizationRequired(
            f"Microsoft refused the refresh token ({detail or error}). {SIGN_IN_AGAIN}"
        )
    if error == "invalid_client":
        return ConfigurationError(
            f"Microsoft refused the client credentials ({detail or error}). Check the Client ID and "
            "paste the client secret's Value again."
        )
    return ChannelError(f"Microsoft refused the request: {error}: {detail}".rstrip(": "))


class ServiceTrouble(TransientError):
    """The sign-in service did not answer, or answered something that is not a token answer.
    `http_status` is what a page reporting it answers with (502, or 504 for no answer)."""

    def __init__(self, message, http_status=502):
        super().__init__(message)
        self.http_status = http_status


class UnreadableAnswer(requests.RequestException):
    """An answer from the sign-in service that is not a JSON object msal could read."""


def _number(value) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


class _CheckedHttp:
    """msal's HTTP client: requests with the site's timeout, each answer checked to be a JSON
    object before msal reads it. msal fails on anything else with a KeyError or AttributeError
    (a captive portal's page, a proxy's 502, a JSON list), which would be a 500 with no words."""

    def __init__(self, timeout: float):
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(max_retries=1)  # as msal's own session
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._timeout = timeout

    def get(self, url, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        return self._checked(self._session.get(url, **kwargs))

    def post(self, url, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        return self._checked(self._session.post(url, **kwargs))

    def close(self):
        self._session.close()

    @staticmethod
    def _checked(response):
        kind = response.headers.get("Content-Type", "no type").split(";")[0]
        try:
            body = response.json()
        except ValueError:
            raise UnreadableAnswer(f"HTTP {response.status_code}, {kind}, not JSON") from None
        if not isinstance(body, dict):
            raise UnreadableAnswer(f"HTTP {response.status_code}, JSON but not an object")
        for field in ("expires_in", "ext_expires_in", "refresh_in"):
            if field in body and not _number(body[field]):
                raise UnreadableAnswer(f"HTTP {response.status_code}, a {field} that is not a number")
        if response.url.endswith("/.well-known/openid-configuration") and not all(
            isinstance(body.get(key), str) for key in ("authorization_endpoint", "token_endpoint")
        ):
            # msal reads these two without a check: a KeyError, a 500, otherwise.
            raise UnreadableAnswer(
                f"HTTP {response.status_code}, a sign-in configuration without its endpoints"
            )
        return response


def _service_trouble(exc: requests.RequestException, then: str) -> ServiceTrouble:
    """The words for a sign-in service that could not be used; `then` says what to do next."""
    if isinstance(exc, UnreadableAnswer):
        return ServiceTrouble(
            f"Microsoft's sign-in service answered with something that is not a token answer ({exc}). "
            "A proxy or network portal between this site and Microsoft may have answered instead, or "
            f"ONEDRIVE_LOGIN_URL points elsewhere. {then}"
        )
    if isinstance(exc, requests.Timeout):
        return ServiceTrouble(
            f"Microsoft's sign-in service did not answer within {settings.ONEDRIVE_HTTP_TIMEOUT:g} seconds "
            f"(ONEDRIVE_HTTP_TIMEOUT). {then}",
            http_status=504,
        )
    return ServiceTrouble(f"Cannot reach Microsoft's sign-in service: {type(exc).__name__}. {then}")


def _app(
    client_id: str, client_secret: str, tenant: str, cloud: str, then: str = "Try again."
) -> "msal.ConfidentialClientApplication":
    # Imported here (some 6 MiB): only token redemption and refresh need it, and the web process
    # mostly serves with an access token it already has.
    import msal

    try:
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=client_secret,
            authority=endpoints.authority(cloud, tenant),
            # The hosts are configured (cloud or override), never discovered.
            instance_discovery=False,
            http_client=_CheckedHttp(settings.ONEDRIVE_HTTP_TIMEOUT),
        )
    except requests.RequestException as exc:
        # The sign-in configuration (fetched as the app is made) did not come, or came garbled.
        raise _service_trouble(exc, then) from None
    except ValueError as exc:
        raise TransientError(
            f"Cannot reach Microsoft's sign-in service at {endpoints.login_url(cloud)}: "
            f"{type(exc).__name__}. Check the network and try again."
        ) from None


def _tokens(result: dict, then: str) -> Tokens:
    if "error" in result:
        raise error_from_response(result)
    if not isinstance(result.get("access_token"), str) or not result["access_token"]:
        raise ServiceTrouble(
            "Microsoft's sign-in service answered without an access token or an error. A proxy or "
            f"network portal between this site and Microsoft may have answered instead. {then}"
        )
    if not result.get("refresh_token"):
        raise ConfigurationError(
            "Microsoft returned no refresh token. Add the offline_access permission under API "
            "permissions in Microsoft Entra, then click Get Token again."
        )
    expires_in = int(result.get("expires_in") or 3599)
    return Tokens(
        access_token=result["access_token"],
        refresh_token=result["refresh_token"],
        expires_at=timezone.now() + datetime.timedelta(seconds=expires_in),
        id_claims=result.get("id_token_claims") or {},
    )


def start_sign_in(client_id, client_secret, tenant, cloud) -> dict:
    """Begin the authorization-code flow; the returned flow goes into the session as is."""
    app = _app(client_id, client_secret, tenant, cloud, then="Click Get Token again.")
    with warnings.catch_warnings():
        # msal recommends response_mode=form_post, but a cross-site POST does not
        # carry the SameSite=Lax session cookie that holds the flow: query it is.
        warnings.filterwarnings("ignore", message="response_mode='form_post'")
        return app.initiate_auth_code_flow(
            endpoints.scopes(cloud), redirect_uri=endpoints.redirect_uri(), prompt="select_account"
        )


def finish_sign_in(flow: dict, query: dict, client_id, client_secret, tenant, cloud) -> Tokens:
    app = _app(client_id, client_secret, tenant, cloud, then=SIGN_IN_FAILED)
    try:
        result = app.acquire_token_by_auth_code_flow(flow, query)
    except ValueError as exc:
        # msal checks state and the flow's shape itself.
        raise ChannelError(
            f"The sign-in answer does not match its request ({exc}). Click Get Token again."
        ) from None
    except requests.RequestException as exc:
        raise _service_trouble(exc, SIGN_IN_FAILED) from None
    return _tokens(result, SIGN_IN_FAILED)


def redeem_refresh_token(refresh_token, client_id, client_secret, tenant, cloud) -> Tokens:
    app = _app(client_id, client_secret, tenant, cloud)
    try:
        result = app.acquire_token_by_refresh_token(refresh_token, endpoints.scopes(cloud))
    except requests.RequestException as exc:
        raise _service_trouble(exc, "Try again.") from None
    return _tokens(result, "Try again.")
