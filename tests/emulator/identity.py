"""The Microsoft identity platform's v2.0 endpoints, as msal and a browser see them:
OpenID discovery, the authorize page with its consent buttons, and the token
endpoint with authorization-code (PKCE) and rotating refresh-token grants."""

import base64
import binascii
import hashlib
import html
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .server import Request, Response
from .state import (
    CONSUMERS_TENANT_ID,
    OIDC_SCOPES,
    AccessToken,
    App,
    AuthCode,
    Grant,
    PendingConsent,
    State,
    User,
    parse_scopes,
    resource_scopes,
)

NAMED_TENANTS = ("consumers", "common", "organizations")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Messages of the AADSTS codes the emulator gives, as Microsoft words them.
MESSAGES = {
    9002313: "Invalid request. Request is malformed or invalid.",
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    65001: "The user or administrator has not consented to use the application with ID '{client_id}' named '{app_name}'. Send an interactive authorization request for this user and resource.",
    65004: "User declined to consent to access the app.",
    70000: "The provided value for the 'code' parameter is not valid. The code has expired or is invalid.",
    70003: "The app requested an unsupported grant type '{grant_type}'.",
    70008: "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
    700082: "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for 90.00:00:00.",
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{now}'.",
    50076: "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
    50058: "A silent sign-in request was sent but no user is signed in.",
    50089: "Authentication failed due to flow token expired. Expected - auth codes, refresh tokens, and sessions expire over time or are revoked by the user or an admin. The app will request a new login from the user.",
    501481: "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    500112: "The reply address '{redirect_uri}' does not match the reply address '{expected}' provided when requesting Authorization code.",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    7000218: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    7000222: "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
    700016: "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
    50194: "Application '{client_id}'({app_name}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
    9002331: "Application '{client_id}'({app_name}) is configured for use by Microsoft Account users only. Please use the /consumers endpoint to serve this request.",
    9002332: "Application '{client_id}'({app_name}) is configured for use by Azure Active Directory users only. Please do not use the /consumers endpoint to serve this request.",
    50011: "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
    900144: "The request body must contain the following parameter: '{parameter}'.",
    90002: "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
    90023: "Invalid request. {detail}",
    700054: "response_type '{response_type}' is not enabled for the application.",
    90055: "The request has been throttled. Retry after the time given in Retry-After.",
    90033: "A transient error has occurred. Please try again.",
}
# Refresh-grant failures a test can ask revoke_grants() for.
REVOCATION_CODES = (70008, 700082, 50173, 50076)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def message(code: int, **fields) -> str:
    template = MESSAGES.get(code, "The request could not be completed.")
    try:
        return template.format(**fields)
    except KeyError:
        return template


def token_error(status: int, error: str, code: int, correlation_id: str | None = None, **fields) -> Response:
    trace_id, corr = str(uuid.uuid4()), correlation_id or str(uuid.uuid4())
    ts = _timestamp()
    body = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {message(code, **fields)}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {corr}\r\nTimestamp: {ts}"
        ),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace_id,
        "correlation_id": corr,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return Response.json(status, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


def tenant_is_valid(tenant: str) -> bool:
    t = tenant.lower()
    return t in NAMED_TENANTS or bool(_GUID.fullmatch(t)) or "." in t


def audience_error(app: App, tenant: str) -> int | None:
    """The AADSTS code for using `app` through this tenant's endpoints, or None."""
    t = tenant.lower()
    if t == CONSUMERS_TENANT_ID:
        t = "consumers"
    aud = app.audience.lower()
    single_tenant = aud not in NAMED_TENANTS
    if t == "consumers":
        return None if aud in ("consumers", "common") else 9002332
    if t in ("common", "organizations"):
        if single_tenant:
            return 50194
        return 9002331 if t == "organizations" and aud == "consumers" else None
    if aud == "consumers":
        return 9002332
    if single_tenant and aud != t:
        return 700016
    return None


def _with_params(uri: str, params: dict, mode: str) -> str:
    params = {k: v for k, v in params.items() if v is not None}
    split = urlsplit(uri)
    encoded = urlencode(params)
    if mode == "fragment":
        return urlunsplit(split._replace(fragment=encoded))
    query = f"{split.query}&{encoded}" if split.query else encoded
    return urlunsplit(split._replace(query=query))


class Identity:
    def __init__(self, state: State):
        self.state = state
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = _b64url(secrets.token_bytes(12))

    # --- routing --------------------------------------------------------

    ROUTES = (
        (re.compile(r"/([^/]+)/v2\.0/\.well-known/openid-configuration"), "discovery", "discovery"),
        (re.compile(r"/([^/]+)/discovery/v2\.0/keys"), "discovery", "keys"),
        (re.compile(r"/([^/]+)/oauth2/v2\.0/authorize"), "authorize", "authorize"),
        (re.compile(r"/([^/]+)/oauth2/v2\.0/authorize/consent"), "authorize", "consent"),
        (re.compile(r"/([^/]+)/oauth2/v2\.0/token"), "token", "token"),
    )

    def route(self, path: str):
        for pattern, kind, name in self.ROUTES:
            m = pattern.fullmatch(path)
            if m:
                tenant = unquote(m.group(1))
                handler = getattr(self, name)
                return kind, lambda req, handler=handler, tenant=tenant: handler(req, tenant)
        return None

    # --- discovery ------------------------------------------------------

    def issuer(self, tenant: str) -> str:
        t = tenant.lower()
        if t == "consumers":
            t = CONSUMERS_TENANT_ID
        elif t in ("common", "organizations"):
            t = "{tenantid}"
        return f"{self.state.base_url}/{t}/v2.0"

    def discovery(self, req: Request, tenant: str) -> Response:
        if req.method not in ("GET", "HEAD"):
            return Response(405, headers={"Allow": "GET"})
        if not tenant_is_valid(tenant):
            return token_error(400, "invalid_tenant", 90002, req.header("client-request-id"), tenant=tenant)
        base = f"{self.state.base_url}/{tenant}"
        config = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self.issuer(tenant),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.state.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "nonce",
                "name",
                "preferred_username",
                "oid",
                "tid",
                "ver",
            ],
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": urlsplit(self.state.base_url).netloc,
        }
        return Response.json(200, config)

    def keys(self, req: Request, tenant: str) -> Response:
        numbers = self._key.public_key().public_numbers()

        def b64int(n: int) -> str:
            return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        jwk = {"kty": "RSA", "use": "sig", "kid": self._kid, "n": b64int(numbers.n), "e": b64int(numbers.e)}
        return Response.json(200, {"keys": [jwk]})

    # --- authorize ------------------------------------------------------

    def _error_page(self, code: int, **fields) -> Response:
        text = message(code, **fields)
        body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><main id="error">
<h1>Sorry, but we're having trouble signing you in.</h1>
<p id="error-code">AADSTS{code}</p>
<p id="error-message">AADSTS{code}: {html.escape(text)}</p>
<p>Request Id: {uuid.uuid4()}<br>Correlation Id: {uuid.uuid4()}<br>Timestamp: {_timestamp()}</p>
</main></body></html>
"""
        return Response.html(400, body)

    def _back_to_app(self, redirect_uri: str, mode: str, params: dict) -> Response:
        if mode == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items()
                if v is not None
            )
            page = (
                "<!doctype html><html><head><title>Working...</title></head>"
                '<body onload="document.forms[0].submit()">'
                f'<form method="post" action="{html.escape(redirect_uri)}">{fields}'
                "<noscript><button>Continue</button></noscript></form></body></html>"
            )
            return Response.html(200, page)
        return Response.redirect(_with_params(redirect_uri, params, mode))

    def _error_redirect(self, redirect_uri, mode, state, error, code, **fields) -> Response:
        description = f"AADSTS{code}: {message(code, **fields)}"
        return self._back_to_app(
            redirect_uri, mode, {"error": error, "error_description": description, "state": state}
        )

    def authorize(self, req: Request, tenant: str) -> Response:
        if req.method not in ("GET", "HEAD"):
            return Response(405, headers={"Allow": "GET"})
        s = self.state
        if not tenant_is_valid(tenant):
            return self._error_page(90002, tenant=tenant)
        client_id = req.arg("client_id") or ""
        with s.lock:
            app = s.apps.get(client_id)
        if app is None:
            return self._error_page(700016, client_id=client_id, tenant=tenant)
        fields = {"client_id": app.client_id, "app_name": app.name, "tenant": tenant}
        code = audience_error(app, tenant)
        if code:
            return self._error_page(code, **fields)
        redirect_uri = req.arg("redirect_uri") or ""
        if redirect_uri not in app.redirect_uris:
            # Never redirect to an unregistered address: the page says so instead.
            return self._error_page(50011, redirect_uri=redirect_uri, **fields)

        # From here on the request is trusted enough to send errors back to the app.
        state = req.arg("state")
        mode = req.arg("response_mode") or "query"
        if mode not in ("query", "fragment", "form_post"):
            mode = "query"
        back = (redirect_uri, mode, state)
        response_type = req.arg("response_type")
        if not response_type:
            return self._error_redirect(*back, "invalid_request", 900144, parameter="response_type")
        if response_type != "code":
            return self._error_redirect(
                *back, "unsupported_response_type", 700054, response_type=response_type
            )
        scopes = parse_scopes(req.arg("scope"))
        if not scopes:
            return self._error_redirect(*back, "invalid_request", 900144, parameter="scope")
        challenge = req.arg("code_challenge")
        if not challenge:
            return self._error_redirect(*back, "invalid_request", 900144, parameter="code_challenge")
        if req.arg("code_challenge_method") != "S256":
            return self._error_redirect(
                *back, "invalid_request", 90023, detail="code_challenge_method must be S256."
            )
        user = s.find_user(req.arg("login_hint"))
        if user is None:
            return self._error_redirect(*back, "login_required", 50058)
        pending = PendingConsent(
            id=secrets.token_urlsafe(24),
            app=app,
            user=user,
            tenant=tenant,
            redirect_uri=redirect_uri,
            state=state,
            scopes=scopes,
            code_challenge=challenge,
            nonce=req.arg("nonce"),
            response_mode=mode,
            created=s.now(),
        )
        prompt = (req.arg("prompt") or "").lower()
        with s.lock:
            consented = (user, app) in s.consents
            if prompt == "none":
                if not consented:
                    return self._error_redirect(*back, "login_required", 50058)
                return self._accept(pending)
            s.pending[pending.id] = pending
        return Response.html(200, self._consent_page(pending))

    def _consent_page(self, p: PendingConsent) -> str:
        e = html.escape
        scope_items = "".join(f"<li>{e(sc)}</li>" for sc in p.scopes if sc.lower() not in OIDC_SCOPES)
        action = f"/{e(p.tenant)}/oauth2/v2.0/authorize/consent"
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Let this app access your info?</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}button{{padding:.5em 2em;margin-right:1em}}</style>
</head><body><main>
<p id="account">{e(p.user.display_name)} &lt;<span id="account-email">{e(p.user.email)}</span>&gt;</p>
<h1>Let this app access your info?</h1>
<p><strong id="app-name">{e(p.app.name)}</strong> needs your permission to:</p>
<ul id="scopes">{scope_items}</ul>
<form method="post" action="{action}">
<input type="hidden" name="request" value="{e(p.id)}">
<button id="cancel" type="submit" name="action" value="cancel">Cancel</button>
<button id="accept" type="submit" name="action" value="accept">Accept</button>
</form>
</main></body></html>
"""

    def consent(self, req: Request, tenant: str) -> Response:
        if req.method != "POST":
            return Response(405, headers={"Allow": "POST"})
        form = req.form()
        s = self.state
        with s.lock:
            pending = s.pending.pop(form.get("request", ""), None)
        if pending is None or s.now() - pending.created > s.settings.consent_page_lifetime:
            return self._error_page(50089)
        if form.get("action") != "accept":
            return self._error_redirect(
                pending.redirect_uri, pending.response_mode, pending.state, "access_denied", 65004
            )
        return self._accept(pending)

    def _accept(self, p: PendingConsent) -> Response:
        s = self.state
        code = AuthCode(
            # Real codes are long opaque strings; the prefix only helps reading logs.
            code="M.C5_" + secrets.token_urlsafe(48),
            app=p.app,
            user=p.user,
            redirect_uri=p.redirect_uri,
            scopes=p.scopes,
            code_challenge=p.code_challenge,
            nonce=p.nonce,
            issued=s.now(),
        )
        with s.lock:
            s.consents.add((p.user, p.app))
            s.codes[code.code] = code
        return self._back_to_app(p.redirect_uri, p.response_mode, {"code": code.code, "state": p.state})

    # --- token ----------------------------------------------------------

    def token(self, req: Request, tenant: str) -> Response:
        corr = req.header("client-request-id")
        if req.method != "POST":
            return token_error(400, "invalid_request", 900144, corr, parameter="grant_type")
        form = req.form()
        grant_type = form.get("grant_type")
        req.grant_type = grant_type
        if not tenant_is_valid(tenant):
            return token_error(400, "invalid_request", 90002, corr, tenant=tenant)
        if not grant_type:
            return token_error(400, "invalid_request", 900144, corr, parameter="grant_type")

        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = req.header("Authorization") or ""
        if basic.lower().startswith("basic "):
            try:
                user_pass = base64.b64decode(basic[6:].strip()).decode("utf-8")
                basic_id, _, basic_secret = user_pass.partition(":")
                client_id, secret = client_id or unquote(basic_id), unquote(basic_secret)
            except (binascii.Error, UnicodeDecodeError):
                return token_error(401, "invalid_client", 7000215, corr, client_id=client_id)
        if not client_id:
            return token_error(400, "invalid_request", 900144, corr, parameter="client_id")
        with self.state.lock:
            app = self.state.apps.get(client_id)
        if app is None:
            return token_error(400, "unauthorized_client", 700016, corr, client_id=client_id, tenant=tenant)
        fields = {"client_id": app.client_id, "app_name": app.name, "tenant": tenant}
        code = audience_error(app, tenant)
        if code:
            error = "unauthorized_client" if code == 700016 else "invalid_request"
            return token_error(400, error, code, corr, **fields)
        if not secret:
            return token_error(401, "invalid_client", 7000218, corr, **fields)
        if not secrets.compare_digest(secret.encode(), app.client_secret.encode()):
            return token_error(401, "invalid_client", 7000215, corr, **fields)
        if app.secret_expired:
            return token_error(401, "invalid_client", 7000222, corr, **fields)

        if grant_type == "authorization_code":
            return self._redeem_code(form, app, corr, fields)
        if grant_type == "refresh_token":
            return self._redeem_refresh_token(form, app, corr, fields)
        return token_error(400, "unsupported_grant_type", 70003, corr, grant_type=grant_type)

    def _redeem_code(self, form, app: App, corr, fields) -> Response:
        s = self.state
        value = form.get("code")
        if not value:
            return token_error(400, "invalid_request", 900144, corr, parameter="code")
        with s.lock:
            code = s.codes.get(value)
            if code is None or code.app is not app:
                return token_error(400, "invalid_grant", 70000, corr)
            if code.redeemed:
                return token_error(400, "invalid_grant", 54005, corr)
            if s.now() - code.issued > s.settings.code_lifetime:
                return token_error(400, "invalid_grant", 70000, corr)
            if form.get("redirect_uri") != code.redirect_uri:
                return token_error(
                    400,
                    "invalid_grant",
                    500112,
                    corr,
                    redirect_uri=form.get("redirect_uri"),
                    expected=code.redirect_uri,
                )
            verifier = form.get("code_verifier") or ""
            expected = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            if not verifier or not secrets.compare_digest(expected, code.code_challenge):
                return token_error(400, "invalid_grant", 501481, corr)
            code.redeemed = True
            return Response.json(200, self.issue(app, code.user, code.scopes, nonce=code.nonce), _NO_STORE)

    def _redeem_refresh_token(self, form, app: App, corr, fields) -> Response:
        s = self.state
        value = form.get("refresh_token")
        if not value:
            return token_error(400, "invalid_request", 900144, corr, parameter="refresh_token")
        with s.lock:
            grant = s.grants.get(value)
            failure = self._grant_failure(grant, app)
            if failure:
                s.failed_redemptions += 1
                code, extra = failure
                return token_error(400, "invalid_grant", code, corr, **fields, **extra)
            asked = parse_scopes(form.get("scope")) or grant.scopes
            if not resource_scopes(asked) <= resource_scopes(grant.scopes):
                s.failed_redemptions += 1
                return token_error(400, "invalid_grant", 65001, corr, **fields)
            grant.redeemed = True
            s.token_redemptions += 1
            # Keep offline_access so the rotated token can itself be refreshed.
            scopes = tuple(dict.fromkeys(asked + tuple(x for x in grant.scopes if x.lower() in OIDC_SCOPES)))
            return Response.json(200, self.issue(app, grant.user, scopes), _NO_STORE)

    def _grant_failure(self, grant: Grant | None, app: App):
        s = self.state
        if grant is None:
            return 9002313, {}
        issued = datetime.fromtimestamp(grant.issued, UTC).strftime("%m/%d/%Y %H:%M:%S")
        now = datetime.fromtimestamp(s.now(), UTC).strftime("%m/%d/%Y %H:%M:%S")
        if grant.app is not app:
            return 70000, {}
        if grant.revoked_code:
            return grant.revoked_code, {"issued": issued, "now": now}
        if grant.redeemed:
            return 70008, {}
        if s.now() - grant.issued > s.settings.refresh_token_lifetime:
            return 700082, {"issued": issued}
        return None

    # --- issuing --------------------------------------------------------

    def issue(self, app: App, user: User, scopes: tuple[str, ...], nonce: str | None = None) -> dict:
        """A token response for this grant, recording the tokens it hands out."""
        s = self.state
        now = s.now()
        lifetime = s.settings.access_token_lifetime
        lowered = {x.lower() for x in scopes}
        granted = tuple(x for x in scopes if x.lower() not in OIDC_SCOPES)
        # Opaque, like a personal account's access token: no dots, so nobody can parse it as a JWT.
        access = AccessToken(
            token="EwB" + secrets.token_urlsafe(96),
            app=app,
            user=user,
            scopes=granted,
            expires_at=now + lifetime,
        )
        body = {
            "token_type": "Bearer",
            "scope": " ".join(granted),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access.token,
        }
        with s.lock:
            s.access_tokens[access.token] = access
            if "offline_access" in lowered:
                grant = Grant(
                    token="M.C5_" + secrets.token_urlsafe(96),
                    app=app,
                    user=user,
                    scopes=tuple(scopes),
                    issued=now,
                )
                s.grants[grant.token] = grant
                body["refresh_token"] = grant.token
        if "openid" in lowered:
            body["id_token"] = self.id_token(app, user, nonce, with_email="email" in lowered)
        body["client_info"] = _b64url(json.dumps({"uid": user.oid, "utid": user.tenant_id}).encode())
        return body

    def id_token(self, app: App, user: User, nonce: str | None, with_email: bool = False) -> str:
        now = int(self.state.now())
        claims = {
            "ver": "2.0",
            "iss": f"{self.state.base_url}/{user.tenant_id}/v2.0",
            # Pairwise, like Entra's: the same person has a different sub in each app.
            "sub": _b64url(hashlib.sha256(f"{user.oid}:{app.client_id}".encode()).digest()[:24]),
            "aud": app.client_id,
            "exp": now + 3600,
            "iat": now,
            "nbf": now,
            "name": user.display_name,
            "preferred_username": user.email,
            "oid": user.oid,
            "tid": user.tenant_id,
            "aio": secrets.token_urlsafe(32),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if with_email:
            claims["email"] = user.email
        header = {"typ": "JWT", "alg": "RS256", "kid": self._kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def fault_body(self, status: int, req: Request) -> Response:
        corr = req.header("client-request-id")
        if status == 429:
            return token_error(429, "temporarily_unavailable", 90055, corr)
        if status == 401:
            return token_error(401, "invalid_client", 7000215, corr, client_id="")
        if status == 400:
            return token_error(400, "invalid_grant", 70008, corr)
        if status >= 500:
            return token_error(status, "temporarily_unavailable", 90033, corr)
        return token_error(status, "invalid_request", 90023, corr, detail="Injected failure.")


_NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def pkce_challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
