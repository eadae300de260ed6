"""Putting one file into a OneDrive, and the few item calls around it.

A simple PUT up to 4 MiB, an upload session above. It knows nothing of the
database: the caller passes the Graph base URL, a source of access tokens, a
way to open the staged bytes at an offset, and a callback that persists the
session URL, so that a worker killed midway is followed by one that resumes
instead of starting over.

Every request goes through _Client.send, which is where throttling, outages
and expired access tokens are dealt with; the functions below only look at
the answers Graph means (202, 416, 404, ...).
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol
from urllib.parse import quote, urljoin, urlsplit

import requests

from channels.errors import ChannelError, PermanentError, ReauthorizationRequired, TransientError
from channels.onedrive.graph import error_from_response
from channels.quickxorhash import QuickXorHash

log = logging.getLogger(__name__)

SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024
FRAGMENT_UNIT = 320 * 1024
# Graph refuses fragments of 60 MiB and more.
FRAGMENT_LIMIT = 60 * 1024 * 1024
CONFLICT_BEHAVIOURS = ("fail", "replace", "rename")
# Statuses Graph uses for "not now": throttling and passing outages.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 509})
# How much of the staged file is read at once when bytes are only hashed.
READ_CHUNK = 1024 * 1024
# A session that vanishes again and again (or 416s that never settle) means
# something is wrong that looping here will not fix: let the caller retry later.
MAX_SESSIONS_PER_CALL = 3
MAX_RESYNCS = 3


class TokenSource(Protocol):
    def get(self) -> str:
        """The current access token."""

    def refresh(self) -> str:
        """A fresh access token after Graph refused the current one (redeems the refresh token)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long one call of this module may keep retrying before it hands back a TransientError.

    `max_wait` is the total sleeping one upload_file (or delete_item, ...) call
    may do: far below the broker's visibility timeout, so a task never looks
    lost while it waits. Longer waits are the caller's to schedule.
    """

    max_attempts: int = 6  # per request
    base: float = 1.0
    factor: float = 2.0
    max_backoff: float = 30.0
    max_wait: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    jitter: bool = True
    timeout: float | tuple[float, float] = (10.0, 120.0)  # connect, read: a fragment can take a while
    # Told of each wait before it is slept (the failure, seconds): a throttled channel pauses its
    # other uploads for as long.
    on_wait: Callable[[ChannelError, float], None] | None = None

    def backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff, self.base * self.factor ** (attempt - 1))
        # Jitter spreads workers that were throttled together, but never below
        # half the wait: resending faster than asked only earns more 429s.
        return random.uniform(delay / 2, delay) if self.jitter else delay


DEFAULT_RETRY = RetryPolicy()


@dataclass
class UploadResult:
    item_id: str
    size: int
    quickxorhash: str
    etag: str
    item: dict


def _ignore(url: str | None) -> None:
    pass


def _ignore_progress(hash_state: str) -> None:
    pass


class _Client:
    """requests plus the rules every Graph call follows: retry, back off, refresh a token once."""

    def __init__(self, tokens: TokenSource | None, policy: RetryPolicy, session: requests.Session | None):
        self.tokens = tokens
        self.policy = policy
        self.http = session or requests.Session()
        self._owns_http = session is None
        self._token: str | None = None
        self.waited = 0.0

    def __enter__(self) -> "_Client":
        return self

    def __exit__(self, *exc) -> None:
        if self._owns_http:
            self.http.close()

    def _bearer(self) -> str:
        if self._token is None:
            self._token = self.tokens.get()
        return f"Bearer {self._token}"

    def send(self, method: str, url: str, *, auth: bool = True, **kwargs) -> requests.Response:
        """The answer to the request, retried through throttling, 5xx and network errors.

        Returns any other answer, errors included, for the caller to read.
        `auth=False` for the pre-authenticated upload URLs: the bearer token
        must never go there.
        """
        extra_headers = kwargs.pop("headers", None) or {}
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            headers = dict(extra_headers)
            if auth:
                headers["Authorization"] = self._bearer()
            try:
                response = self.http.request(
                    method, url, headers=headers, timeout=self.policy.timeout, **kwargs
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                failure = TransientError(
                    f"Cannot reach Microsoft Graph ({type(exc).__name__}). Will retry later.",
                    code="networkError",
                )
                delay = self.policy.backoff(attempt)
            else:
                status = response.status_code
                if status == 401 and auth:
                    if refreshed:
                        raise ReauthorizationRequired(
                            f"{str(error_from_response(response)).rstrip('.')}, even with a freshly refreshed access token. "
                            "Click Get Token to connect the channel again.",
                            code="InvalidAuthenticationToken",
                        )
                    # Graph refused the token (expired early, or revoked): one
                    # refresh, then the same request again.
                    response.close()
                    self._token = self.tokens.refresh()
                    refreshed = True
                    attempt -= 1
                    continue
                if status not in RETRY_STATUSES:
                    return response
                failure = error_from_response(response)
                response.close()
                # Retry-After is honoured exactly; only its absence means backing off.
                delay = (
                    failure.retry_after if failure.retry_after is not None else self.policy.backoff(attempt)
                )
            if attempt >= self.policy.max_attempts or self.waited + delay > self.policy.max_wait:
                failure.retry_after = delay
                raise failure
            log.info("%s %s: %s; waiting %.1f s", method, _redact(url, auth), failure, delay)
            if self.policy.on_wait is not None:
                self.policy.on_wait(failure, delay)
            self.policy.sleep(delay)
            self.waited += delay

    def json(self, method: str, url: str, what: str, **kwargs) -> dict:
        response = self.send(method, url, **kwargs)
        if response.status_code >= 400:
            raise _error(response, what)
        return response.json()


def _redact(url: str, auth: bool) -> str:
    # Upload and download URLs are credentials in themselves: keep them out of logs.
    return urlsplit(url).path if auth else "(pre-authenticated URL)"


def _error(response: requests.Response, what: str) -> ChannelError:
    failure = error_from_response(response)
    if response.status_code == 409 and failure.code in ("nameAlreadyExists", ""):
        return PermanentError(
            f"A file named {what} already exists in the OneDrive (Microsoft Graph answered 409 "
            "nameAlreadyExists).",
            code="nameAlreadyExists",
        )
    if failure.permanent and what:
        return PermanentError(f"{failure} ({what})", code=failure.code)
    return failure


class _Source:
    """The staged file, read forward in bounded pieces, and the quickXorHash of
    the bytes from its start up to `hashed`: the bytes OneDrive holds."""

    def __init__(self, open_stream: Callable[[int], BinaryIO], size: int, hash_state: str | None = None):
        self.open_stream = open_stream
        self.size = size
        self._stream: BinaryIO | None = None
        self._position = 0
        self.hash = QuickXorHash()
        if hash_state:
            try:
                self.hash = QuickXorHash.from_state(hash_state)
            except ValueError:
                log.warning("ignoring a saved quickXorHash state that is not one: hashing from byte 0")
        self.hashed = self.hash.length
        self._buffer = bytearray()

    def __enter__(self) -> "_Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def read(self, offset: int, length: int) -> bytearray:
        """`length` bytes from `offset`, in a buffer reused by the next read: one
        fragment's worth of memory, whatever the fragment size."""
        if self._stream is None or self._position != offset:
            self.close()
            self._stream = self.open_stream(offset)
            self._position = offset
        if len(self._buffer) != length:
            self._buffer = bytearray(length)
        view = memoryview(self._buffer)
        filled = 0
        while filled < length:
            got = self._stream.readinto(view[filled : min(length, filled + READ_CHUNK)])
            if not got:
                raise PermanentError(
                    f"The staged file ends at byte {self._position}, but it should hold {self.size} bytes."
                )
            filled += got
            self._position += got
        return self._buffer

    def accept(self, offset: int, data: bytes) -> None:
        """OneDrive now holds `data` at `offset`."""
        if offset != self.hashed:
            raise AssertionError(f"hash covers {self.hashed} bytes, not {offset}")
        self.hash.update(data)
        self.hashed += len(data)

    def hash_through(self, offset: int) -> None:
        """Make the hash cover [0, offset): bytes a resumed session received from an earlier attempt."""
        if self.hashed > offset:
            self.hash, self.hashed = QuickXorHash(), 0
        while self.hashed < offset:
            self.accept(self.hashed, self.read(self.hashed, min(READ_CHUNK, offset - self.hashed)))


def _quote_path(remote_path: str) -> str:
    segments = [s for s in remote_path.split("/") if s]
    if not segments:
        raise ValueError(f"remote_path {remote_path!r} names no file")
    return "/".join(quote(s, safe="") for s in segments)


def _quote_id(item_id: str) -> str:
    return quote(item_id, safe="!")


def check_fragment_size(fragment_size: int) -> None:
    if fragment_size <= 0 or fragment_size % FRAGMENT_UNIT or fragment_size >= FRAGMENT_LIMIT:
        raise ValueError(
            f"fragment_size {fragment_size} must be a multiple of {FRAGMENT_UNIT} bytes (320 KiB) "
            f"below {FRAGMENT_LIMIT} bytes (60 MiB)"
        )


def upload_file(
    *,
    graph_base: str,
    tokens: TokenSource,
    remote_path: str,
    open_stream: Callable[[int], BinaryIO],
    size: int,
    fragment_size: int = 10 * 1024 * 1024,
    conflict: str = "fail",
    session_url: str | None = None,
    on_session: Callable[[str | None], None] = _ignore,
    hash_state: str | None = None,
    on_progress: Callable[[str], None] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    session: requests.Session | None = None,
) -> UploadResult:
    """Store `size` bytes from `open_stream` at `remote_path` in the drive, verified by size and hash.

    Raises TransientError (try again later, resuming `session_url` as saved
    through `on_session`), PermanentError (a person must act), ValueError for
    bad arguments; an error of `open_stream` propagates with the session kept.

    `on_progress` gets the quickXorHash state of the bytes the session holds after
    each fragment; passed back as `hash_state` with `session_url`, a resumed upload
    hashes on from there and reads the staged file only from that byte on, not
    from its start. A state covering more than the session holds is dropped.
    """
    check_fragment_size(fragment_size)
    if conflict not in CONFLICT_BEHAVIOURS:
        raise ValueError(f"conflict must be one of {CONFLICT_BEHAVIOURS}, not {conflict!r}")
    if size < 0:
        raise ValueError("size must not be negative")
    item_url = f"{graph_base}/me/drive/root:/{_quote_path(remote_path)}:"
    resumed_hash = hash_state if session_url else None
    with _Client(tokens, retry, session) as client, _Source(open_stream, size, resumed_hash) as source:
        if size <= SIMPLE_UPLOAD_LIMIT:
            if session_url:  # left over from when the file was to go in fragments
                cancel_session(session_url, session=client.http)
                on_session(None)
            item = _simple_upload(client, source, item_url, conflict, remote_path)
        else:
            item = _session_upload(
                client,
                source,
                item_url,
                conflict,
                remote_path,
                fragment_size,
                session_url,
                on_session,
                on_progress or _ignore_progress,
            )
        return _verified(item, source, remote_path)


def _simple_upload(client: _Client, source: _Source, item_url: str, conflict: str, what: str) -> dict:
    data = source.read(0, source.size)
    response = client.send(
        "PUT", f"{item_url}/content?@microsoft.graph.conflictBehavior={conflict}", data=data
    )
    if response.status_code not in (200, 201):
        raise _error(response, what)
    source.accept(0, data)
    return response.json()


def _session_upload(
    client: _Client,
    source: _Source,
    item_url: str,
    conflict: str,
    what: str,
    fragment_size: int,
    session_url: str | None,
    on_session: Callable[[str | None], None],
    on_progress: Callable[[str], None],
) -> dict:
    url, offset = None, 0
    if session_url:
        offset = _session_offset(client, session_url, what)
        url = session_url if offset is not None else None
    created = resyncs = 0
    try:
        while True:
            if url is None:
                if created >= MAX_SESSIONS_PER_CALL:
                    raise TransientError(
                        f"OneDrive keeps dropping the upload session of {what}. Will retry later."
                    )
                url = _create_session(client, item_url, conflict, what)
                created += 1
                offset = 0
                on_session(url)
            source.hash_through(offset)
            data = source.read(offset, min(fragment_size, source.size - offset))
            last = offset + len(data) - 1
            response = client.send(
                "PUT",
                url,
                auth=False,
                data=data,
                headers={"Content-Range": f"bytes {offset}-{last}/{source.size}"},
            )
            status = response.status_code
            if status in (200, 201):
                source.accept(offset, data)
                on_session(None)
                return response.json()
            if status == 202:
                source.accept(offset, data)
                on_progress(source.hash.state())
                offset = _next_expected(response.json(), last + 1)
                resyncs = 0
            elif status == 416 and resyncs < MAX_RESYNCS:
                # The fragment overlaps what the session holds (an earlier send
                # arrived though its answer was lost): ask where to go on.
                resyncs += 1
                offset = _session_offset(client, url, what)
                if offset is None:
                    url = None
            elif status in (401, 404):
                # The session expired (404; 401 at personal accounts' 24 h limit,
                # as no token was sent): start over in a new one.
                log.info("upload session of %s is gone (%s): starting a new one", what, status)
                url = None
            else:
                raise _error(response, what)
    except PermanentError:
        if url:
            cancel_session(url, session=client.http)
        on_session(None)
        raise


def _create_session(client: _Client, item_url: str, conflict: str, what: str) -> str:
    body = {"item": {"@microsoft.graph.conflictBehavior": conflict}}
    return client.json("POST", f"{item_url}/createUploadSession", what, json=body)["uploadUrl"]


def _session_offset(client: _Client, url: str, what: str) -> int | None:
    """The next byte the session expects, or None when the session is gone."""
    response = client.send("GET", url, auth=False)
    if response.status_code in (401, 404):
        return None
    if response.status_code >= 400:
        raise _error(response, what)
    return _next_expected(response.json(), None)


def _next_expected(status: dict, default: int | None) -> int | None:
    ranges = status.get("nextExpectedRanges") or []
    if not ranges:
        return default
    return int(str(ranges[0]).split("-", 1)[0])


def _verified(item: dict, source: _Source, what: str) -> UploadResult:
    ours = source.hash.b64digest()
    theirs = ((item.get("file") or {}).get("hashes") or {}).get("quickXorHash")
    if item.get("size") != source.size or theirs != ours:
        raise PermanentError(
            f"OneDrive stored {what} as {item.get('size')} bytes with quickXorHash {theirs}, but "
            f"{source.size} bytes with quickXorHash {ours} were sent: the copy there is damaged "
            f"(item {item.get('id')}). Delete it and upload again.",
            code="hashMismatch",
        )
    return UploadResult(
        item_id=item["id"], size=source.size, quickxorhash=ours, etag=item.get("eTag", ""), item=item
    )


def cancel_session(url: str, *, session: requests.Session | None = None) -> bool:
    """Cancel an upload session; True when it is gone. Best effort: an
    abandoned session expires by itself, so failing here is only logged."""
    http = session or requests.Session()
    try:
        response = http.delete(url, timeout=DEFAULT_RETRY.timeout)
    except requests.RequestException as exc:
        log.warning("could not cancel an upload session: %s", type(exc).__name__)
        return False
    finally:
        if session is None:
            http.close()
    return response.status_code in (200, 204, 404)


def get_json(
    graph_base: str,
    tokens: TokenSource,
    path: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    session: requests.Session | None = None,
) -> dict:
    """GET `path` (e.g. "/me/drive/root:/a/b.png:") with the usual retries."""
    with _Client(tokens, retry, session) as client:
        return client.json("GET", graph_base + path, "")


def delete_item(
    graph_base: str,
    tokens: TokenSource,
    item_id: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    session: requests.Session | None = None,
) -> None:
    """Move an item to the drive's recycle bin; an item already gone counts as deleted."""
    with _Client(tokens, retry, session) as client:
        response = client.send("DELETE", f"{graph_base}/me/drive/items/{_quote_id(item_id)}")
        if response.status_code >= 400 and response.status_code != 404:
            raise _error(response, f"item {item_id}")


def download_url(
    graph_base: str,
    tokens: TokenSource,
    item_id: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    session: requests.Session | None = None,
) -> str:
    """A short-lived pre-authenticated URL of the item's bytes (Range requests work there). Never store it."""
    item_url = f"{graph_base}/me/drive/items/{_quote_id(item_id)}"
    with _Client(tokens, retry, session) as client:
        # stream=True: should a server answer with the bytes instead of a redirect, they are not read.
        response = client.send("GET", f"{item_url}/content", allow_redirects=False, stream=True)
        with response:
            if response.is_redirect and response.headers.get("Location"):
                return urljoin(response.url, response.headers["Location"])
            if response.status_code >= 400:
                raise _error(response, f"item {item_id}")
        item = client.json("GET", item_url, f"item {item_id}")
        if not item.get("@microsoft.graph.downloadUrl"):
            raise PermanentError(f"OneDrive gives no download URL for item {item_id}: is it a folder?")
        return item["@microsoft.graph.downloadUrl"]


def move_item(
    graph_base: str,
    tokens: TokenSource,
    item_id: str,
    remote_path: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    session: requests.Session | None = None,
) -> dict:
    """Move and rename the item to remote_path (its id stays), making missing folders first.
    Never replaces an item there: PermanentError nameAlreadyExists."""
    folder, _, name = remote_path.strip("/").rpartition("/")
    with _Client(tokens, retry, session) as client:
        parent = _folder_id(client, graph_base, folder)
        response = client.send(
            "PATCH",
            f"{graph_base}/me/drive/items/{_quote_id(item_id)}",
            params={"@microsoft.graph.conflictBehavior": "fail"},
            json={"parentReference": {"id": parent}, "name": name},
        )
        if response.status_code == 409:
            there = client.send("GET", f"{graph_base}/me/drive/root:/{_quote_path(remote_path)}:")
            if there.ok and there.json().get("id") == item_id:  # moved there by an earlier attempt
                return there.json()
            raise PermanentError(
                f"Another item is already at {remote_path} in the OneDrive; the file stays where it was.",
                code="nameAlreadyExists",
            )
        if response.status_code >= 400:
            raise _error(response, f"item {item_id}")
        return response.json()


def _folder_id(client: _Client, graph_base: str, folder: str) -> str:
    """The id of the folder at `folder` ("" is the drive's root), made with its parents where missing."""
    where = f":/{_quote_path(folder)}:" if folder else ""
    response = client.send("GET", f"{graph_base}/me/drive/root{where}")
    if response.ok:
        item = response.json()
        if "folder" not in item and "root" not in item:
            raise PermanentError(
                f"{folder} is a file in the OneDrive, not a folder.", code="nameAlreadyExists"
            )
        return item["id"]
    if response.status_code != 404 or not folder:
        raise _error(response, f"folder {folder or '/'}")
    above, _, name = folder.rpartition("/")
    parent = _folder_id(client, graph_base, above)
    response = client.send(
        "POST",
        f"{graph_base}/me/drive/items/{_quote_id(parent)}/children",
        json={"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"},
    )
    if response.status_code == 409:  # made meanwhile (another move into the same folder)
        return _folder_id(client, graph_base, folder)
    if response.status_code >= 400:
        raise _error(response, f"folder {folder}")
    return response.json()["id"]
