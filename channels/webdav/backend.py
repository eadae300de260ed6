"""A WebDAV server (RFC 4918) as a channel backend, over plain HTTP requests.

Files are written under a temporary name and moved into place with Overwrite: F,
so an interrupted upload never leaves a partial file where the real one belongs
(a retry would otherwise find "a different file" there), and nothing already
stored is replaced. Serving is always proxied: a redirect would need the
server's credentials in the browser.
"""

import email.utils
import hashlib
import io
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from channels.backends import ListedItem, Quota, Relocated, RemoteFile
from channels.errors import PermanentError, TransientError
from channels.webdav.models import WebDAVSettings

CHUNK = 1024 * 1024
LIST_PROPFIND = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/><d:getlastmodified/>'
    "</d:prop></d:propfind>"
)
QUOTA_PROPFIND = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:quota-available-bytes/><d:quota-used-bytes/></d:prop></d:propfind>'
)
DAV = "{DAV:}"


class _ShortStream(Exception):
    """The staged file ended before its recorded size."""


class _CountingReader:
    """A file-like body for requests: a known length (so a Content-Length, not chunked),
    read in chunks while it hashes what it sends."""

    def __init__(self, source, size):
        self.source = source
        self.len = size
        self.remaining = size
        self.sha256 = hashlib.sha256()

    def read(self, n=-1):
        if self.remaining <= 0:
            return b""
        data = self.source.read(min(CHUNK if n is None or n < 0 else n, self.remaining))
        if not data:
            raise _ShortStream
        self.remaining -= len(data)
        self.sha256.update(data)
        return data

    def __iter__(self):
        while data := self.read(CHUNK):
            yield data


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# Requests safe to send twice: no streamed body, and the same outcome when repeated.
RESENDABLE = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "MKCOL", "DELETE"})

# (base URL, folder) pairs known to exist on their server, for this process.
_FOLDERS_THERE: set[tuple[str, str]] = set()


class WebDAVBackend:
    def __init__(self, channel):
        self.channel = channel
        dav = WebDAVSettings.objects.filter(channel_id=channel.pk).first()
        if dav is None or not dav.base_url:
            raise PermanentError(
                f"The WebDAV channel {channel.name} has no server address. Set its base URL in the admin.",
                code="badConfig",
            )
        self.base_url = dav.base_url.rstrip("/")
        self.root = (channel.root_directory or "").strip("/")
        self.session = requests.Session()
        # A server may close a kept-alive connection after an error answer (WsgiDAV does after
        # a 404): a request without a body that meets such a closed connection is sent once
        # more on a new one, instead of failing as "cannot reach".
        retry = Retry(total=1, connect=1, read=1, status=0, redirect=0, allowed_methods=RESENDABLE)
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, HTTPAdapter(max_retries=retry))
        if dav.username or dav.password:
            # UTF-8, as Nextcloud and most servers expect; requests would send Latin-1.
            self.session.auth = (dav.username.encode(), dav.password.encode())
        self.timeout = settings.ONEDRIVE_HTTP_TIMEOUT

    # Addresses and requests.

    def _url(self, remote_path: str, folder=False) -> str:
        parts = [quote(p, safe="") for p in remote_path.split("/") if p]
        if any(p in ("..", ".") for p in remote_path.split("/")):
            raise PermanentError(f"{remote_path!r} is not a path inside {self.base_url}.", code="badPath")
        return "/".join([self.base_url, *parts]) + ("/" if folder and parts else "")

    def _where(self, remote_path="") -> str:
        """An address for messages: the server's, never with credentials."""
        return "/".join(p for p in (self.base_url, remote_path.strip("/")) if p)

    def _request(self, method, url, *, stream=False, **kwargs):
        try:
            return self.session.request(
                method, url, timeout=self.timeout, stream=stream, allow_redirects=False, **kwargs
            )
        except requests.Timeout:
            raise TransientError(
                f"The WebDAV server at {urlsplit(self.base_url).netloc} did not answer in time. Will retry.",
                code="timeout",
            ) from None
        except _ShortStream:
            raise TransientError(
                "The staged file ended before its recorded size. Will retry.", code="shortRead"
            ) from None
        except requests.RequestException as exc:
            raise TransientError(
                f"Cannot reach the WebDAV server at {urlsplit(self.base_url).netloc} "
                f"({type(exc).__name__}). Will retry.",
                code="connectionError",
            ) from None

    def _fail(self, response, doing: str) -> Exception:
        """The error a response that went wrong stands for."""
        status = response.status_code
        response.close()
        if status == 401:
            return PermanentError(
                "The WebDAV server refused the user name or password. Fix them (an app password, "
                "where the server uses them).",
                code="accessDenied",
            )
        if status == 403:
            return PermanentError(
                f"The WebDAV server does not let this user {doing}. Give the user write access "
                "there, or choose another root folder.",
                code="accessDenied",
            )
        if status == 507:
            return PermanentError(
                f"The WebDAV server at {urlsplit(self.base_url).netloc} is out of space (507 Insufficient "
                "Storage). Free space there or add another channel.",
                code="quotaLimitReached",
            )
        if status in (408, 423, 429) or status >= 500:
            reason = {423: "the file is locked", 429: "too many requests"}.get(status, f"HTTP {status}")
            return TransientError(
                f"The WebDAV server could not {doing} ({reason}). Will retry.",
                retry_after=_retry_after(response),
                code="throttled" if status == 429 else "serverError",
            )
        if 300 <= status < 400:
            return PermanentError(
                f"The WebDAV server redirected the request to {response.headers.get('Location', 'elsewhere')}: "
                "the base URL is not the server's WebDAV address. Check it (for Nextcloud it ends in "
                "/remote.php/dav/files/USER).",
                code="badConfig",
            )
        return PermanentError(f"The WebDAV server could not {doing} (HTTP {status}).", code=f"http{status}")

    def _bad_base_url(self) -> PermanentError:
        return PermanentError(
            f"There is no WebDAV folder at {self.base_url}. Check the base URL (for Nextcloud "
            "https://HOST/remote.php/dav/files/USER, for alist/OpenList https://HOST/dav).",
            code="badConfig",
        )

    def _check_base_url(self) -> None:
        response = self._request(
            "PROPFIND",
            self._url("", folder=True),
            data=LIST_PROPFIND,
            headers={"Depth": "0", "Content-Type": "application/xml"},
        )
        response.close()
        if response.status_code == 404:
            raise self._bad_base_url()
        if response.status_code != 207:
            raise self._fail(response, f"read {self.base_url}")

    # Folders and files.

    def _make_folder(self, folder: str) -> None:
        """MKCOL the folder and any missing parents: 405 means it exists, 409 a missing parent.

        Folders this process made or found are remembered: most uploads go to a folder that
        exists, and an MKCOL answering 405 cost a tenth of a store. A folder removed on the
        server meanwhile makes the PUT fail with 409, which forgets it (see store)."""
        if not folder or (self.base_url, folder) in _FOLDERS_THERE:
            return
        self._mkcol(folder)
        _FOLDERS_THERE.add((self.base_url, folder))

    def _mkcol(self, folder: str) -> None:
        response = self._request("MKCOL", self._url(folder, folder=True))
        response.close()
        if response.status_code in (200, 201, 204, 405):
            return
        parent = folder.rpartition("/")[0]
        if response.status_code in (404, 409):
            if not parent:
                raise self._bad_base_url()
            self._mkcol(parent)
            response = self._request("MKCOL", self._url(folder, folder=True))
            response.close()
            if response.status_code in (200, 201, 204, 405):
                return
        raise self._fail(response, f"create the folder {self._where(folder)}")

    def _size(self, remote_path: str) -> int | None:
        """The size of the file at the path; None when there is none."""
        response = self._request("HEAD", self._url(remote_path))
        response.close()
        if response.status_code == 404:
            return None
        if not response.ok:
            raise self._fail(response, f"read {self._where(remote_path)}")
        length = response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else self._propfind_size(remote_path)

    def _propfind_size(self, remote_path: str) -> int | None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<d:propfind xmlns:d="DAV:"><d:prop><d:getcontentlength/></d:prop></d:propfind>'
        )
        response = self._request(
            "PROPFIND",
            self._url(remote_path),
            data=body,
            headers={"Depth": "0", "Content-Type": "application/xml"},
        )
        if response.status_code == 404:
            return None
        if response.status_code != 207:
            raise self._fail(response, f"read {self._where(remote_path)}")
        found = _props(response.content).get("getcontentlength")
        return int(found) if found and found.isdigit() else None

    def _sha256(self, remote_path: str) -> str:
        response = self._request("GET", self._url(remote_path), stream=True)
        if not response.ok:
            raise self._fail(response, f"read {self._where(remote_path)}")
        digest = hashlib.sha256()
        with response:
            for chunk in response.iter_content(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def _same_file_there(self, remote_path, open_stream, size, sha256=None) -> bool:
        if self._size(remote_path) != size:
            return False
        if sha256 is None:
            digest = hashlib.sha256()
            with open_stream(0) as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
            sha256 = digest.hexdigest()
        return self._sha256(remote_path) == sha256

    def _exists_error(self, remote_path) -> PermanentError:
        return PermanentError(
            f"A different file already exists at {self._where(remote_path)}. Move or delete it there, "
            "then retry the upload.",
            code="nameAlreadyExists",
        )

    def store(self, remote_path, open_stream, size, *, session_url=None, on_session=None) -> RemoteFile:
        target = self._url(remote_path)
        if self._size(remote_path) is not None:
            if self._same_file_there(remote_path, open_stream, size):
                return RemoteFile(remote_id=remote_path, size=size)
            raise self._exists_error(remote_path)
        folder, _, name = remote_path.rpartition("/")
        self._make_folder(folder)
        # Not a ".part" name: Nextcloud refuses those.
        partial = "/".join(p for p in (folder, f".{name}.{uuid.uuid4().hex}.uploading") if p)
        moved = False
        try:
            with open_stream(0) as source:
                body = _CountingReader(source, size)
                response = self._request(
                    "PUT",
                    self._url(partial),
                    data=body,
                    headers={"Content-Type": "application/octet-stream", "If-None-Match": "*"},
                )
            if response.status_code == 409:
                response.close()
                raise TransientError(
                    f"The folder {self._where(folder)} is missing on the WebDAV server. Will make it and retry.",
                    code="folderGone",
                )
            if not response.ok:
                raise self._fail(response, f"write {self._where(remote_path)}")
            response.close()
            response = self._request(
                "MOVE", self._url(partial), headers={"Destination": target, "Overwrite": "F"}
            )
            response.close()
            if response.status_code == 412:
                # Someone stored a file there meanwhile: the same bytes count as stored.
                if self._same_file_there(remote_path, open_stream, size, body.sha256.hexdigest()):
                    return RemoteFile(remote_id=remote_path, size=size)
                raise self._exists_error(remote_path)
            if not response.ok:
                raise self._fail(response, f"move the uploaded file into place at {self._where(remote_path)}")
            moved = True
        except BaseException:
            # The folder is in doubt (a 409, or a server that answers a missing folder by closing
            # the connection): the retry creates it again.
            _FOLDERS_THERE.discard((self.base_url, folder))
            raise
        finally:
            if not moved:  # after a MOVE there is nothing left at the temporary name
                self._delete_quietly(partial)
        stored = self._size(remote_path)
        if stored != size:
            raise TransientError(
                f"The WebDAV server holds {stored} bytes of a {size}-byte file at {self._where(remote_path)}. "
                "Will retry.",
                code="sizeMismatch",
            )
        return RemoteFile(remote_id=remote_path, size=size)

    def relocate(self, remote_id, remote_path) -> Relocated:
        """A copy at the new path, made by the server (COPY: no bytes through this site); the old
        path is the leftover."""
        folder = remote_path.rpartition("/")[0]
        self._make_folder(folder)
        response = self._request(
            "COPY", self._url(remote_id), headers={"Destination": self._url(remote_path), "Overwrite": "F"}
        )
        response.close()
        if response.status_code == 412:
            source = self._size(remote_id)
            if source is None or not self._same_copy(remote_id, remote_path, source):
                raise PermanentError(
                    f"A different file already exists at {self._where(remote_path)}; the file stays at "
                    f"{self._where(remote_id)}.",
                    code="nameAlreadyExists",
                )
        elif response.status_code == 404:
            raise PermanentError(f"The file {self._where(remote_id)} is missing.", code="itemNotFound")
        elif response.status_code == 409:
            _FOLDERS_THERE.discard((self.base_url, folder))
            raise TransientError(
                f"The folder {self._where(folder)} is missing on the WebDAV server. Will make it and retry.",
                code="folderGone",
            )
        elif not response.ok:
            raise self._fail(response, f"copy {self._where(remote_id)} to {self._where(remote_path)}")
        return Relocated(remote_path, leftover=remote_id)

    def _same_copy(self, one, other, size) -> bool:
        return self._size(other) == size and self._sha256(one) == self._sha256(other)

    def _delete_quietly(self, remote_path) -> None:
        try:
            self._request("DELETE", self._url(remote_path)).close()
        except TransientError:
            pass  # a leftover hidden .uploading file is harmless

    def cancel_session(self, session_url) -> None:
        """A WebDAV PUT has no session to give up."""

    def redirect_url(self, remote_id) -> str | None:
        return None

    def open_range(self, remote_id, start, end):
        response = self._request(
            "GET", self._url(remote_id), stream=True, headers={"Range": f"bytes={start}-{end}"}
        )
        if response.status_code == 404:
            response.close()
            raise PermanentError(f"The file is missing from {self._where(remote_id)}.", code="itemNotFound")
        if response.status_code not in (200, 206):
            raise self._fail(response, f"read {self._where(remote_id)}")
        # A server that ignores Range sends the whole file: skip to start and stop at end.
        skip = start if response.status_code == 200 else 0

        def chunks():
            nonlocal skip
            remaining = end - start + 1
            with response:
                for data in response.iter_content(CHUNK):
                    if skip:
                        dropped = min(skip, len(data))
                        data, skip = data[dropped:], skip - dropped
                    if data:
                        data = data[:remaining]
                        remaining -= len(data)
                        yield data
                    if remaining <= 0:
                        break

        return chunks()

    def delete(self, remote_id) -> None:
        response = self._request("DELETE", self._url(remote_id))
        response.close()
        if response.ok or response.status_code == 404:
            return
        raise self._fail(response, f"delete {self._where(remote_id)}")

    def list_items(self):
        """The files under the root folder: a PROPFIND of Depth 1 per folder (servers may refuse
        Depth infinity), the folders below walked in name order."""
        base_path = unquote(urlsplit(self.base_url).path).rstrip("/")
        folders = [self.root]
        while folders:
            folder = folders.pop()
            response = self._request(
                "PROPFIND",
                self._url(folder, folder=True),
                data=LIST_PROPFIND,
                headers={"Depth": "1", "Content-Type": "application/xml"},
            )
            if response.status_code == 404:
                response.close()
                if folder == self.root:
                    self._check_base_url()
                    return  # no root folder yet: nothing stored
                continue  # a folder removed meanwhile
            if response.status_code != 207:
                raise self._fail(response, f"list the folder {self._where(folder)}")
            below = []
            for href, props in sorted(_entries(response.content), key=lambda entry: entry[0]):
                path = unquote(urlsplit(href).path)
                if not path.startswith(base_path + "/") and path != base_path:
                    continue  # not under the base URL (a server's odd href): not this channel's
                path = path[len(base_path) :].strip("/")
                if path == folder.strip("/"):
                    continue  # the folder itself
                if props["collection"]:
                    below.append(path)
                    continue
                length = props.get("getcontentlength", "")
                yield ListedItem(
                    path=path,
                    remote_id=path,
                    size=int(length) if length.isdigit() else 0,
                    modified=_http_date(props.get("getlastmodified", "")),
                )
            folders.extend(reversed(below))

    def quota(self) -> Quota:
        """The server's RFC 4331 figures where it reports them, capped by the staff-set capacity;
        else the capacity and the bytes this site stored there."""
        reported = self._reported_quota()
        used = self.channel.stored_bytes
        capacity = self.channel.capacity
        if capacity:
            remaining = max(0, capacity - used)
            if reported is not None:
                remaining = min(remaining, reported[1])
            return Quota(total=capacity, used=used, remaining=remaining)
        if reported is not None:
            server_used, available = reported
            return Quota(total=server_used + available, used=server_used, remaining=available)
        return Quota(total=None, used=used, remaining=None)

    def _reported_quota(self) -> tuple[int, int] | None:
        """(used, available) as the server reports them for the root folder (or the base URL)."""
        for folder in dict.fromkeys([self.root, ""]):
            response = self._request(
                "PROPFIND",
                self._url(folder, folder=True),
                data=QUOTA_PROPFIND,
                headers={"Depth": "0", "Content-Type": "application/xml"},
            )
            if response.status_code == 404 and folder:
                continue  # no root folder yet: ask about the base URL
            if response.status_code == 404:
                raise self._bad_base_url()
            if response.status_code != 207:
                raise self._fail(response, f"read the space left at {self._where(folder)}")
            return parse_quota(response.content)
        return None

    def check(self) -> str:
        """Create the root folder, write a small file, read it back and delete it."""
        self._make_folder(self.root)
        probe = "/".join(p for p in (self.root, f".imgbed-check-{uuid.uuid4().hex}") if p)
        data = b"imgbed connection check\n"
        stored = self.store(probe, lambda offset: io.BytesIO(data[offset:]), len(data))
        try:
            if b"".join(self.open_range(stored.remote_id, 0, len(data) - 1)) != data:
                raise PermanentError(
                    f"A file written to {self._where(self.root)} read back differently.", code="ioError"
                )
        finally:
            self.delete(stored.remote_id)
        return f"wrote, read back and deleted a test file at {self._where(self.root)}"


def _props(body: bytes) -> dict[str, str]:
    """The properties a 207 Multi-Status answered with 200 OK, by local name (first response only)."""
    try:
        tree = ET.fromstring(body)
    except ET.ParseError:
        return {}
    found = {}
    response = tree.find(f"{DAV}response")
    for propstat in response.findall(f"{DAV}propstat") if response is not None else []:
        status = propstat.findtext(f"{DAV}status") or ""
        if " 200 " not in f"{status} ":
            continue
        props = propstat.find(f"{DAV}prop")
        for prop in props if props is not None else []:
            found[prop.tag.rpartition("}")[2]] = (prop.text or "").strip()
    return found


def _entries(body: bytes) -> list[tuple[str, dict]]:
    """(href, properties) of every response of a 207 Multi-Status; "collection" says whether it is a folder."""
    try:
        tree = ET.fromstring(body)
    except ET.ParseError:
        return []
    found = []
    for response in tree.findall(f"{DAV}response"):
        href = (response.findtext(f"{DAV}href") or "").strip()
        if not href:
            continue
        props = {"collection": False}
        for propstat in response.findall(f"{DAV}propstat"):
            if " 200 " not in f"{propstat.findtext(f'{DAV}status') or ''} ":
                continue
            prop_list = propstat.find(f"{DAV}prop")
            for prop in list(prop_list) if prop_list is not None else []:
                name = prop.tag.rpartition("}")[2]
                if name == "resourcetype":
                    props["collection"] = prop.find(f"{DAV}collection") is not None
                else:
                    props[name] = (prop.text or "").strip()
        found.append((href, props))
    return found


def _http_date(value: str):
    try:
        return email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def parse_quota(body: bytes) -> tuple[int, int] | None:
    """(used, available) from a PROPFIND answer, when it holds both as counts of bytes.

    Nextcloud and ownCloud send negative numbers for "unknown" or "unlimited"."""
    props = _props(body)
    try:
        used, available = int(props["quota-used-bytes"]), int(props["quota-available-bytes"])
    except (KeyError, ValueError):
        return None
    if used < 0 or available < 0:
        return None
    return used, available
