"""The public face of the emulator: start it, register apps and accounts, bend
it with faults and clocks, and look at what clients sent it."""

import json
import os
import shutil
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field

import trustme

from .browser import sign_in
from .faults import HANG_LIMIT, IDENTITY_KINDS, FaultRule, Faults
from .graph import Graph
from .graph import fault_response as graph_fault_response
from .identity import Identity
from .requestlog import LoggedRequest, RequestLog
from .server import Request, Response, TLSServer
from .state import App, Item, State, User
from .storage import BlobStore

GiB = 1024**3
DEFAULT_SCOPES = ("Files.ReadWrite.All", "User.Read", "offline_access", "openid", "profile")


@dataclass(frozen=True)
class StoredFile:
    path: str  # "/a/b/c.png" from the drive root
    name: str
    size: int
    quickxorhash: str
    sha1: str
    sha256: str
    item_id: str
    owner: str  # the account's email
    _item: Item = field(repr=False, compare=False)

    def read_bytes(self) -> bytes:
        return self._item.blob.read_bytes()

    def open(self):
        return self._item.blob.open()


@dataclass(frozen=True)
class SessionInfo:
    upload_url: str
    path: str
    received: int
    total: int | None
    ranges: tuple[tuple[int, int], ...]


class Emulator:
    """Microsoft identity platform + Graph drive API over HTTPS on loopback."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, storage_dir: str | None = None, in_memory=False
    ):
        self.host = host
        self.port = port
        self._workdir = tempfile.mkdtemp(prefix="graph-emulator-")
        self.ca = trustme.CA(organization_name="imgbed test CA")
        self.ca_pem_path = os.path.join(self._workdir, "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_pem_path)
        names = dict.fromkeys([host, "127.0.0.1", "localhost", "::1"])
        self._ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*names).configure_cert(self._ssl_context)

        self._blobs = BlobStore(storage_dir, in_memory=in_memory)
        self._state = State(self._blobs)
        self._identity = Identity(self._state)
        self._graph = Graph(self._state)
        self._log = RequestLog()
        self.faults = Faults()
        self._server: TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._seed()

    # --- lifecycle ------------------------------------------------------

    def start(self) -> "Emulator":
        if self._server is not None:
            return self
        self._server = TLSServer((self.host, self.port), self._ssl_context, self)
        self.port = self._server.server_address[1]
        self._state.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="graph-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._thread.join(timeout=5)
            self._server = None
        self._state.clear()
        self._blobs.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def settings(self):
        """Lifetimes and limits (access_token_lifetime, code_lifetime, download_url_lifetime, ...)."""
        return self._state.settings

    def reset(self) -> None:
        """Forget apps, accounts, tokens, files, faults and the log; keep the server."""
        self._state.clear()
        self.faults.clear()
        self._log.clear()
        self._seed()

    def _seed(self) -> None:
        self.default_user = self.add_user()

    # --- apps and accounts ----------------------------------------------

    def register_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris=(),
        audience: str = "consumers",
        name: str = "imgbed-onedrive",
    ) -> App:
        """audience: "consumers", "common", "organizations" or a tenant GUID (single-tenant)."""
        return self._state.add_app(client_id, client_secret, redirect_uris, audience, name)

    def add_user(
        self,
        display_name: str = "Ada Lovelace",
        email: str = "ada@example.com",
        quota_total: int = 5 * GiB,
        quota_used: int = 0,
        tenant_id: str | None = None,
        sign_in: bool = True,
    ) -> User:
        """A new account; with sign_in=True the consent page signs in as it from now on.
        quota_used is a base added to the bytes stored through the emulator."""
        user = self._state.add_user(display_name, email, quota_total, quota_used, tenant_id)
        if sign_in:
            self.sign_in_as(user)
        return user

    def sign_in_as(self, user: User) -> None:
        with self._state.lock:
            self._state.signed_in = user

    @property
    def user(self) -> User:
        """The account the consent page signs in as."""
        return self._state.signed_in

    @property
    def users(self) -> list[User]:
        with self._state.lock:
            return list(self._state.users)

    @property
    def apps(self) -> list[App]:
        with self._state.lock:
            return list(self._state.apps.values())

    def issue_refresh_token(self, app: App, user: User | None = None, scopes=DEFAULT_SCOPES) -> str:
        """A refresh token as if `user` had consented in the browser (scopes include offline_access)."""
        scopes = tuple(scopes)
        if "offline_access" not in {s.lower() for s in scopes}:
            scopes += ("offline_access",)
        return self._issue(app, user, scopes)["refresh_token"]

    def issue_access_token(self, app: App, user: User | None = None, scopes=DEFAULT_SCOPES) -> str:
        return self._issue(app, user, tuple(scopes))["access_token"]

    def _issue(self, app: App, user: User | None, scopes: tuple[str, ...]) -> dict:
        user = user or self.user
        with self._state.lock:
            self._state.consents.add((user, app))
        return self._identity.issue(app, user, scopes)

    def consent(self, auth_uri: str, accept: bool = True) -> str:
        """Play the person at the consent page (Accept or Cancel); returns the URL the
        browser is sent back to. Raises SignInError when the page shows an error."""
        return sign_in(auth_uri, accept=accept, verify=self.ca_pem_path)

    authorize = consent

    # --- bending it -----------------------------------------------------

    def revoke_grants(self, user: User | None = None, code: int = 70008, app: App | None = None) -> int:
        """Make the refresh tokens of `user` (and/or `app`; all when None) fail with AADSTS`code`.
        Typical codes: 70008 (revoked / expired), 700082 (unused 90 days), 50173 (password
        reset), 50076 (MFA now required). Returns how many tokens were revoked."""
        s = self._state
        count = 0
        with s.lock:
            for grant in s.grants.values():
                if (user is None or grant.user is user) and (app is None or grant.app is app):
                    if not grant.redeemed and not grant.revoked_code:
                        grant.revoked_code = code
                        count += 1
            s.consents = {(u, a) for u, a in s.consents if not ((user in (None, u)) and (app in (None, a)))}
        return count

    def expire_access_tokens(self, user: User | None = None) -> None:
        """The next Graph call with any current access token gets 401 InvalidAuthenticationToken."""
        s = self._state
        with s.lock:
            for token in s.access_tokens.values():
                if user is None or token.user is user:
                    token.expires_at = s.now() - 1

    def expire_codes(self) -> None:
        s = self._state
        with s.lock:
            for code in s.codes.values():
                code.issued = s.now() - s.settings.code_lifetime - 1

    def expire_download_urls(self) -> None:
        s = self._state
        with s.lock:
            for ticket in s.tickets.values():
                ticket.expires_at = s.now() - 1

    def expire_upload_sessions(self) -> None:
        """Every open upload session answers 404 from now on, as after a long pause."""
        s = self._state
        with s.lock:
            for session in s.sessions.values():
                session.expires_at = s.now() - 1

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's idea of now; expiry of codes, tokens, URLs and sessions follows."""
        with self._state.lock:
            self._state.clock_offset += seconds

    def set_drive_full(self, full: bool = True, user: User | None = None) -> None:
        """Quota state 'exceeded': uploads get 507 quotaLimitReached until set back."""
        with self._state.lock:
            (user or self.user).drive.full = full

    def set_quota(self, total: int | None = None, used: int | None = None, user: User | None = None) -> None:
        """Quota total, and the used bytes on top of what was stored through the emulator."""
        drive = (user or self.user).drive
        with self._state.lock:
            if total is not None:
                drive.quota_total = total
            if used is not None:
                drive.quota_used_base = used

    # --- looking ---------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        return self._log.snapshot()

    def clear_log(self) -> None:
        self._log.clear()

    def files(self, user: User | None = None) -> list[StoredFile]:
        return [
            StoredFile(
                path=item.path,
                name=item.name,
                size=item.size,
                quickxorhash=item.blob.quickxorhash,
                sha1=item.blob.sha1,
                sha256=item.blob.sha256,
                item_id=item.id,
                owner=owner.email,
                _item=item,
            )
            for owner, item in self._state.files()
            if user is None or owner is user
        ]

    def upload_sessions(self) -> list[SessionInfo]:
        with self._state.lock:
            return [
                SessionInfo(
                    upload_url=f"{self.base_url}/upload/{s.id}",
                    path="/" + "/".join(s.segments),
                    received=s.received,
                    total=s.total,
                    ranges=tuple(s.ranges),
                )
                for s in self._state.sessions.values()
            ]

    @property
    def token_redemptions(self) -> int:
        """Successful refresh-token redemptions."""
        return self._state.token_redemptions

    @property
    def failed_redemptions(self) -> int:
        return self._state.failed_redemptions

    @property
    def valid_refresh_tokens(self) -> int:
        s = self._state
        with s.lock:
            now = s.now()
            return sum(
                1
                for g in s.grants.values()
                if not g.redeemed
                and not g.revoked_code
                and now - g.issued <= s.settings.refresh_token_lifetime
            )

    def issued_secrets(self) -> set[str]:
        """Every secret this emulator has handed out: app secrets, refresh and access tokens, codes."""
        s = self._state
        with s.lock:
            return (
                {a.client_secret for a in s.apps.values()}
                | set(s.grants)
                | set(s.access_tokens)
                | set(s.codes)
            )

    # --- request dispatch (called by the server threads) -----------------

    def _route(self, path: str):
        for service in (self._graph, self._identity):
            found = service.route(path)
            if found:
                return found
        return "other", lambda req: graph_fault_response(404, self.base_url)

    def _dispatch(self, req: Request) -> Response:
        kind, handler = self._route(req.path)
        req.kind = kind
        if kind == "token" and req.method == "POST":
            # Read up front so the log names the grant even when a fault answers.
            req.grant_type = req.form().get("grant_type")
        latency = self.faults.latency
        if latency > 0:
            time.sleep(latency)
        rule = self.faults.take(kind, req.method, req.path)
        if rule is not None:
            return self._fault(rule, req)
        return handler(req)

    def _fault(self, rule: FaultRule, req: Request) -> Response:
        if rule.hang:
            req.body.drain()
            rule.hanging.set()
            rule.released.wait(HANG_LIMIT)
            return Response(0, abort=True, injected=True)
        if rule.status == 0:
            req.body.drain()
            return Response(0, abort=True, injected=True)
        if rule.body is not None:
            if isinstance(rule.body, dict | list):
                resp = Response.json(rule.status, rule.body)
            else:
                body = rule.body.encode() if isinstance(rule.body, str) else rule.body
                looks_json = body.lstrip()[:1] in (b"{", b"[")
                resp = Response(
                    rule.status, body, {"Content-Type": "application/json" if looks_json else "text/plain"}
                )
        elif req.kind in IDENTITY_KINDS:
            resp = self._identity.fault_body(rule.status, req)
        else:
            resp = graph_fault_response(rule.status, self.base_url)
        if rule.retry_after is not None and (rule.status == 429 or rule.status >= 500):
            ra = rule.retry_after
            resp.headers["Retry-After"] = str(int(ra) if float(ra).is_integer() else ra)
        resp.headers.update(rule.headers)
        resp.injected = True
        return resp

    def env(self) -> dict[str, str]:
        """The environment a client of this emulator needs."""
        return {
            "ONEDRIVE_LOGIN_URL": self.base_url,
            "ONEDRIVE_GRAPH_URL": self.base_url,
            "REQUESTS_CA_BUNDLE": self.ca_pem_path,
        }

    def describe(self) -> str:
        return json.dumps({"base_url": self.base_url, "ca": self.ca_pem_path}, indent=2)
