"""Everything the emulator remembers: apps, accounts, grants, drives, sessions.

One re-entrant lock guards it all; request handlers take it for bookkeeping
only and stream request bodies outside it.
"""

import mimetypes
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .storage import Blob, BlobStore, BlobWriter

MiB = 1024 * 1024
# The directory every personal Microsoft account lives in.
CONSUMERS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


def new_guid() -> str:
    return str(uuid.uuid4())


def iso(ts: float) -> str:
    """Graph's timestamp format (UTC, 'Z')."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def normalize_scope(scope: str) -> str:
    # "https://graph.microsoft.com/User.Read" and "User.Read" name the same permission.
    if scope.lower().startswith("https://"):
        return scope.rsplit("/", 1)[-1]
    return scope


def parse_scopes(text: str | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for s in (text or "").split():
        seen.setdefault(normalize_scope(s), None)
    return tuple(seen)


def resource_scopes(scopes) -> frozenset[str]:
    return frozenset(s.lower() for s in scopes if s.lower() not in OIDC_SCOPES)


@dataclass
class Settings:
    access_token_lifetime: int = 3599
    code_lifetime: float = 600.0
    # Sliding: a refresh token unused for this long gives AADSTS700082.
    refresh_token_lifetime: float = 90 * 86400.0
    consent_page_lifetime: float = 600.0
    download_url_lifetime: float = 3600.0
    # An upload session dies after this long without a fragment (404 after).
    upload_session_idle: float = 3600.0
    # Personal accounts have shown a hard cap whatever the activity (401 after).
    upload_session_hard_limit: float = 24 * 3600.0
    simple_upload_limit: int = 4 * MiB
    fragment_limit: int = 60 * MiB
    fragment_multiple: int = 320 * 1024
    # A folder's children come in pages of this many (Graph's default) unless $top says otherwise.
    children_page_size: int = 200


@dataclass(eq=False)
class App:
    client_id: str
    client_secret: str
    secret_id: str
    redirect_uris: list[str]
    audience: str
    name: str
    secret_expired: bool = False

    def expire_secret(self) -> None:
        self.secret_expired = True


@dataclass(eq=False)
class Item:
    id: str
    name: str
    parent: "Item | None"
    is_folder: bool
    created: float
    modified: float
    version: int = 1
    blob: Blob | None = None
    children: dict[str, "Item"] = field(default_factory=dict)

    @property
    def size(self) -> int:
        if self.is_folder:
            return sum(c.size for c in self.children.values())
        return self.blob.size if self.blob else 0

    @property
    def path(self) -> str:
        """'/a/b/c.png' from the drive root; '' for the root itself."""
        parts = []
        node = self
        while node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(parts)) if parts else ""

    @property
    def mime_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def walk(self):
        for child in list(self.children.values()):
            yield child
            yield from child.walk()


@dataclass(eq=False)
class Drive:
    id: str
    quota_total: int
    quota_used_base: int
    root: Item
    items: dict[str, Item] = field(default_factory=dict)
    full: bool = False
    deleted_bytes: int = 0
    next_item: int = 100

    def stored_bytes(self) -> int:
        return sum(i.size for i in self.items.values() if not i.is_folder)

    @property
    def used(self) -> int:
        used = self.quota_used_base + self.stored_bytes()
        return max(used, self.quota_total) if self.full else used

    def fits(self, extra: int) -> bool:
        return not self.full and self.used + extra <= self.quota_total

    def quota(self) -> dict:
        total, used = self.quota_total, self.used
        remaining = max(total - used, 0)
        if self.full or remaining <= 0:
            state = "exceeded"
        elif remaining < total * 0.01:
            state = "critical"
        elif remaining < total * 0.10:
            state = "nearing"
        else:
            state = "normal"
        return {
            "total": total,
            "used": used,
            "remaining": remaining,
            "deleted": self.deleted_bytes,
            "state": state,
            "storagePlanInformation": {"upgradeAvailable": True},
        }


@dataclass(eq=False)
class User:
    id: str
    oid: str
    tenant_id: str
    display_name: str
    email: str
    drive: Drive

    @property
    def personal(self) -> bool:
        return self.tenant_id == CONSUMERS_TENANT_ID


@dataclass(eq=False)
class Grant:
    """One refresh token. Redeeming it retires it: rotation is strict here."""

    token: str
    app: App
    user: User
    scopes: tuple[str, ...]
    issued: float
    redeemed: bool = False
    revoked_code: int | None = None


@dataclass(eq=False)
class AccessToken:
    token: str
    app: App
    user: User
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(eq=False)
class AuthCode:
    code: str
    app: App
    user: User
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str
    nonce: str | None
    issued: float
    redeemed: bool = False


@dataclass(eq=False)
class PendingConsent:
    """An authorize request waiting for the person to press Accept or Cancel."""

    id: str
    app: App
    user: User
    tenant: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str
    nonce: str | None
    response_mode: str
    created: float


@dataclass(eq=False)
class UploadSession:
    id: str
    drive: Drive
    base: Item
    segments: list[str]
    conflict: str
    created: float
    expires_at: float
    writer: BlobWriter
    total: int | None = None
    file_size_hint: int | None = None
    ranges: list[tuple[int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def received(self) -> int:
        return self.writer.size


@dataclass(eq=False)
class DownloadTicket:
    token: str
    drive: Drive
    item_id: str
    expires_at: float


class State:
    def __init__(self, blobs: BlobStore):
        self.lock = threading.RLock()
        self.blobs = blobs
        self.base_url = ""
        self._reset_fields()

    def _reset_fields(self) -> None:
        self.settings = Settings()
        self.clock_offset = 0.0
        self.apps: dict[str, App] = {}
        self.users: list[User] = []
        self.signed_in: User | None = None
        self.consents: set[tuple[User, App]] = set()
        self.pending: dict[str, PendingConsent] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.sessions: dict[str, UploadSession] = {}
        self.tickets: dict[str, DownloadTicket] = {}
        self.token_redemptions = 0
        self.failed_redemptions = 0

    def now(self) -> float:
        return time.time() + self.clock_offset

    # --- accounts -------------------------------------------------------

    def add_app(self, client_id, client_secret, redirect_uris, audience, name) -> App:
        app = App(
            client_id=client_id or new_guid(),
            client_secret=client_secret or _secret_value(),
            secret_id=new_guid(),
            redirect_uris=list(redirect_uris or []),
            audience=audience,
            name=name,
        )
        with self.lock:
            self.apps[app.client_id] = app
        return app

    def add_user(self, display_name, email, quota_total, quota_used, tenant_id=None) -> User:
        now = self.now()
        cid = secrets.token_hex(8)
        tenant_id = tenant_id or CONSUMERS_TENANT_ID
        if tenant_id == CONSUMERS_TENANT_ID:
            # Personal accounts: Graph ids are the 16-hex CID; the OIDC oid embeds it.
            user_id, oid = cid, f"00000000-0000-0000-{cid[:4]}-{cid[4:]}"
        else:
            user_id = oid = new_guid()
        root = Item(
            id=f"{cid.upper()}!{101}", name="root", parent=None, is_folder=True, created=now, modified=now
        )
        drive = Drive(id=cid, quota_total=quota_total, quota_used_base=quota_used, root=root)
        drive.items[root.id] = root
        user = User(
            id=user_id, oid=oid, tenant_id=tenant_id, display_name=display_name, email=email, drive=drive
        )
        with self.lock:
            self.users.append(user)
        return user

    def find_user(self, login_hint: str | None) -> User | None:
        with self.lock:
            if login_hint:
                for u in self.users:
                    if u.email.lower() == login_hint.lower():
                        return u
            return self.signed_in

    # --- drive items ----------------------------------------------------

    def new_item_id(self, drive: Drive) -> str:
        drive.next_item += 1
        return f"{drive.id.upper()}!{drive.next_item}"

    def files(self) -> list[tuple[User, Item]]:
        with self.lock:
            return [(u, i) for u in self.users for i in u.drive.root.walk() if not i.is_folder]

    def clear(self) -> None:
        with self.lock:
            for s in self.sessions.values():
                s.writer.discard()
            for user in self.users:
                for item in user.drive.root.walk():
                    if item.blob:
                        item.blob.delete()
            self._reset_fields()


def _secret_value() -> str:
    # Shaped like an Entra client secret value: three characters, "8Q~", then 34 more.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"
    head = "".join(secrets.choice(alphabet[:62]) for _ in range(3))
    return head + "8Q~" + "".join(secrets.choice(alphabet) for _ in range(34))
