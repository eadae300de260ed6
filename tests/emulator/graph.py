"""Microsoft Graph's drive API for a personal account: /me, /me/drive, items by
path or id, simple uploads, upload sessions with their fragment rules, and the
pre-authenticated download and upload URLs that live outside /v1.0."""

import re
import secrets
import time
import uuid
from email.utils import formatdate
from urllib.parse import quote, unquote

from . import paging
from .server import BodyTooLarge, IncompleteBody, Request, Response
from .state import DownloadTicket, Drive, Item, State, UploadSession, iso

_CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+)\s*")
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")
_INVALID_NAME_CHARS = set('"*:<>?/\\|')
CONFLICT_BEHAVIOURS = ("fail", "replace", "rename")
# Neither page of Microsoft's agrees on the default; the stricter one is used so
# a client that forgets to say what it wants finds out in tests.
DEFAULT_CONFLICT = "fail"
_READ_SCOPES = frozenset({"files.read", "files.read.all", "files.readwrite", "files.readwrite.all"})
_WRITE_SCOPES = frozenset({"files.readwrite", "files.readwrite.all"})
_USER_SCOPES = frozenset({"user.read", "user.readwrite", "user.read.all", "user.readbasic.all"})
_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

FAULT_CODES = {
    400: ("invalidRequest", "Invalid request"),
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    403: ("accessDenied", "Access denied"),
    404: ("itemNotFound", "The resource could not be found."),
    409: ("nameAlreadyExists", "The specified item name already exists."),
    416: ("invalidRange", "The requested range is not satisfiable."),
    423: ("resourceLocked", "The resource is locked."),
    429: ("activityLimitReached", "The request has been throttled."),
    500: ("generalException", "General exception while processing"),
    502: ("serviceNotAvailable", "Bad gateway"),
    503: ("serviceNotAvailable", "The service is temporarily unavailable."),
    504: ("serviceNotAvailable", "Gateway timeout"),
    507: ("quotaLimitReached", "Insufficient Space Available"),
    509: ("bandwidthLimitExceeded", "Bandwidth limit exceeded"),
}


class GraphFailure(Exception):
    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def graph_error(
    status: int, code: str, msg: str, inner: str | None = None, headers: dict | None = None
) -> Response:
    request_id = str(uuid.uuid4())
    inner_error = {"date": iso_seconds(), "request-id": request_id, "client-request-id": request_id}
    if inner:
        inner_error["code"] = inner
    h = {"request-id": request_id}
    h.update(headers or {})
    return Response.json(status, {"error": {"code": code, "message": msg, "innerError": inner_error}}, h)


def iso_seconds() -> str:
    return iso(time.time())[:19]


def unauthenticated(base_url: str) -> Response:
    return graph_error(
        401,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
        headers={
            "WWW-Authenticate": (
                f'Bearer realm="", authorization_uri="{base_url}/common/oauth2/authorize", '
                f'client_id="{_GRAPH_APP_ID}"'
            )
        },
    )


def fault_response(status: int, base_url: str) -> Response:
    if status == 401:
        return unauthenticated(base_url)
    code, msg = FAULT_CODES.get(status, ("generalException", "General exception while processing"))
    return graph_error(status, code, msg)


def not_found(msg: str = "The resource could not be found.") -> Response:
    return graph_error(404, "itemNotFound", msg)


def invalid_name(name: str) -> bool:
    return (
        not name
        or name in (".", "..")
        or any(c in _INVALID_NAME_CHARS or ord(c) < 32 for c in name)
        or name != name.strip()
        or name.endswith(".")
    )


def parse_range(header: str, size: int):
    """(first, last) of a single byte range; None to ignore it; "unsatisfiable"."""
    m = _RANGE.fullmatch(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None  # malformed or several ranges: answer with the whole file
    if not m.group(1):
        suffix = int(m.group(2))
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else size - 1
    if m.group(2) and last < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


class Graph:
    def __init__(self, state: State):
        self.state = state

    def route(self, path: str):
        if path == "/v1.0" or path.startswith("/v1.0/"):
            return "graph", self.handle
        if path.startswith("/upload/"):
            return "upload_url", self.upload_url
        if path.startswith("/download/"):
            return "download", self.download
        return None

    # --- JSON shapes ----------------------------------------------------

    def etag(self, item: Item) -> str:
        return f'"{{{item.id}}},{item.version}"'

    def item_json(self, drive: Drive, item: Item) -> dict:
        s = self.state
        owner = {"user": {"displayName": self._owner(drive).display_name, "id": drive.id}}
        data = {
            "@odata.context": f"{s.base_url}/v1.0/$metadata#drives('{drive.id}')/items/$entity",
            "id": item.id,
            "name": item.name,
            "size": item.size,
            "eTag": self.etag(item),
            "cTag": f'"c:{{{item.id}}},{item.version}"',
            "createdDateTime": iso(item.created)[:19] + "Z",
            "lastModifiedDateTime": iso(item.modified)[:19] + "Z",
            "webUrl": f"{s.base_url}/personal/{drive.id}/Documents{quote(item.path)}",
            "createdBy": owner,
            "lastModifiedBy": owner,
        }
        if item.parent is None:
            data["root"] = {}
            data["parentReference"] = {"driveId": drive.id, "driveType": "personal"}
        else:
            data["parentReference"] = {
                "driveId": drive.id,
                "driveType": "personal",
                "id": item.parent.id,
                "name": item.parent.name,
                "path": "/drive/root:" + item.parent.path,
            }
        if item.is_folder:
            data["folder"] = {"childCount": len(item.children)}
        else:
            data["file"] = {
                "mimeType": item.mime_type,
                "hashes": {
                    "quickXorHash": item.blob.quickxorhash,
                    "sha1Hash": item.blob.sha1,
                    "sha256Hash": item.blob.sha256,
                },
            }
            data["@microsoft.graph.downloadUrl"] = self._download_url(drive, item)
        return data

    def _owner(self, drive: Drive):
        for u in self.state.users:
            if u.drive is drive:
                return u
        raise LookupError(drive.id)

    def _download_url(self, drive: Drive, item: Item) -> str:
        s = self.state
        now = s.now()
        ticket = DownloadTicket(
            token=secrets.token_urlsafe(32),
            drive=drive,
            item_id=item.id,
            expires_at=now + s.settings.download_url_lifetime,
        )
        with s.lock:
            for token in [t for t, v in s.tickets.items() if v.expires_at < now - 3600]:
                del s.tickets[token]
            s.tickets[ticket.token] = ticket
        return f"{s.base_url}/download/{ticket.token}"

    # --- /v1.0 ----------------------------------------------------------

    def handle(self, req: Request) -> Response:
        s = self.state
        scheme, _, token = (req.header("Authorization") or "").partition(" ")
        with s.lock:
            access = s.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if access is None or access.expires_at <= s.now():
                return unauthenticated(s.base_url)
        scopes = {x.lower() for x in access.scopes}
        user = access.user
        path = req.path[len("/v1.0") :]
        if path == "/me":
            if req.method not in ("GET", "HEAD"):
                return graph_error(405, "invalidRequest", "Method not allowed")
            if not scopes & _USER_SCOPES:
                return graph_error(
                    403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                )
            return Response.json(200, self.me_json(user))
        if not scopes & _READ_SCOPES:
            return graph_error(403, "accessDenied", "Access denied: the token lacks a Files permission.")
        if req.method not in ("GET", "HEAD") and not scopes & _WRITE_SCOPES:
            return graph_error(403, "accessDenied", "Access denied: the token grants read-only access.")
        drive = user.drive
        if path == "/me/drive":
            if req.method not in ("GET", "HEAD"):
                return graph_error(405, "invalidRequest", "Method not allowed")
            with s.lock:
                return Response.json(200, self.drive_json(user))
        if path.startswith("/me/drive/"):
            try:
                return self._item_request(req, drive, path[len("/me/drive/") :])
            except GraphFailure as failure:
                return failure.response
        segment = path.strip("/").split("/")[0] or "v1.0"
        return graph_error(400, "BadRequest", f"Resource not found for the segment '{unquote(segment)}'.")

    def me_json(self, user) -> dict:
        given, _, surname = user.display_name.partition(" ")
        return {
            "@odata.context": f"{self.state.base_url}/v1.0/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": user.display_name,
            "givenName": given,
            "surname": surname or None,
            "jobTitle": None,
            "mail": user.email,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "userPrincipalName": user.email,
            "id": user.id,
        }

    def drive_json(self, user) -> dict:
        drive = user.drive
        return {
            "@odata.context": f"{self.state.base_url}/v1.0/$metadata#drives/$entity",
            "id": drive.id,
            "driveType": "personal" if user.personal else "business",
            "name": "OneDrive",
            "owner": {"user": {"displayName": user.display_name, "id": user.id}},
            "quota": drive.quota(),
        }

    def _item_request(self, req: Request, drive: Drive, rest: str) -> Response:
        m = re.fullmatch(r"(root|items/([^/:]+))(.*)", rest)
        if not m:
            raise GraphFailure(graph_error(400, "invalidRequest", "Invalid request"))
        base_id = unquote(m.group(2)) if m.group(2) else None
        tail = m.group(3)
        segments = None
        if tail.startswith(":"):
            rel, _, action = tail[1:].partition(":")
            segments = [unquote(x) for x in rel.split("/") if x]
            for name in segments:
                if invalid_name(name):
                    raise GraphFailure(
                        graph_error(
                            400,
                            "invalidRequest",
                            f"The name '{name}' contains invalid characters.",
                            "nameContainsInvalidCharacters",
                        )
                    )
        else:
            action = tail
        method = req.method

        if action == "/createUploadSession":
            if method != "POST":
                return graph_error(405, "invalidRequest", "Method not allowed")
            return self._create_session(req, drive, base_id, segments)
        if action == "/content" and method == "PUT":
            return self._simple_upload(req, drive, base_id, segments)

        with self.state.lock:
            item = self._resolve(drive, base_id, segments)
            if action == "":
                if method in ("GET", "HEAD"):
                    if item is None:
                        return not_found()
                    return Response.json(200, self.item_json(drive, item))
                if method == "DELETE":
                    if item is None:
                        return not_found()
                    return self._delete(drive, item)
                if method == "PATCH":
                    if item is None:
                        return not_found()
                    return self._update(req, drive, item)
                return graph_error(405, "invalidRequest", "Method not allowed")
            if action == "/children" and method == "POST":
                if item is None or not item.is_folder:
                    return not_found()
                return self._create_folder(req, drive, item)
            if action == "/children" and method in ("GET", "HEAD"):
                if item is None or not item.is_folder:
                    return not_found()
                children = sorted(item.children.values(), key=lambda i: i.name.lower())
                collection = f"{self.state.base_url}/v1.0/me/drive/items/{quote(item.id, safe='')}/children"
                try:
                    shown, next_link = paging.page(
                        req, children, self.state.settings.children_page_size, collection
                    )
                except paging.BadPaging as exc:
                    return graph_error(400, "invalidRequest", str(exc))
                body = {"value": [self.item_json(drive, c) for c in shown]}
                if next_link:
                    body["@odata.nextLink"] = next_link
                return Response.json(200, body)
            if action == "/content" and method in ("GET", "HEAD"):
                if item is None or item.is_folder:
                    return not_found()
                return Response.redirect(self._download_url(drive, item))
        return graph_error(400, "invalidRequest", f"Unsupported request {method} {action or '/'}")

    def _resolve(self, drive: Drive, base_id: str | None, segments: list[str] | None) -> Item | None:
        node = drive.root if base_id in (None, "root") else drive.items.get(base_id)
        return self._walk(node, segments)

    def _walk(self, node: Item | None, segments: list[str] | None) -> Item | None:
        for name in segments or []:
            if node is None or not node.is_folder:
                return None
            node = node.children.get(name.lower())
        return node

    def _base_folder(self, drive: Drive, base_id: str | None) -> Item:
        base = self._resolve(drive, base_id, None)
        if base is None or not base.is_folder:
            raise GraphFailure(not_found())
        return base

    def _delete(self, drive: Drive, item: Item) -> Response:
        if item.parent is None:
            return graph_error(403, "accessDenied", "The root folder cannot be deleted.")
        for node in [item, *item.walk()]:
            drive.items.pop(node.id, None)
            if node.blob:
                drive.deleted_bytes += node.blob.size
                node.blob.delete()
        del item.parent.children[item.name.lower()]
        item.parent.modified = self.state.now()
        return Response(204)

    # --- writing --------------------------------------------------------

    def _body(self, req: Request) -> dict:
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GraphFailure(graph_error(400, "invalidRequest", "The request body must be a JSON object."))
        return body

    def _update(self, req: Request, drive: Drive, item: Item) -> Response:
        """PATCH an item: a new name and/or parent (a move; the id stays). Call with the lock held."""
        body = self._body(req)
        conflict = self._conflict_behaviour(
            req.arg("@microsoft.graph.conflictBehavior") or body.get("@microsoft.graph.conflictBehavior")
        )
        if item.parent is None:
            return graph_error(400, "invalidRequest", "The root folder cannot be moved or renamed.")
        parent = item.parent
        reference = body.get("parentReference")
        if isinstance(reference, dict) and (reference.get("id") or reference.get("path")):
            if reference.get("id"):
                parent = drive.items.get(reference["id"])
            else:
                path = reference["path"].removeprefix("/drive/root:")
                parent = self._walk(drive.root, [unquote(x) for x in path.split("/") if x])
            if parent is None or not parent.is_folder:
                return graph_error(404, "itemNotFound", "The new parent folder does not exist.")
            node = parent
            while node is not None:
                if node is item:
                    return graph_error(400, "invalidRequest", "A folder cannot be moved into itself.")
                node = node.parent
        name = body.get("name") or item.name
        if invalid_name(name):
            return graph_error(
                400,
                "invalidRequest",
                f"The name '{name}' contains invalid characters.",
                "nameContainsInvalidCharacters",
            )
        existing = parent.children.get(name.lower())
        if existing is not None and existing is not item:
            if conflict != "replace" or existing.is_folder:
                return graph_error(409, "nameAlreadyExists", "The specified item name already exists.")
            self._delete(drive, existing)
        del item.parent.children[item.name.lower()]
        item.parent.modified = self.state.now()
        item.name, item.parent = name, parent
        parent.children[name.lower()] = item
        parent.modified = item.modified = self.state.now()
        return Response.json(200, self.item_json(drive, item))

    def _create_folder(self, req: Request, drive: Drive, parent: Item) -> Response:
        """POST .../children {"name", "folder": {}}. Call with the lock held."""
        body = self._body(req)
        name = body.get("name")
        if not isinstance(name, str) or not name or "folder" not in body:
            return graph_error(400, "invalidRequest", "A new folder needs a name and a folder facet.")
        if invalid_name(name):
            return graph_error(
                400,
                "invalidRequest",
                f"The name '{name}' contains invalid characters.",
                "nameContainsInvalidCharacters",
            )
        conflict = self._conflict_behaviour(
            req.arg("@microsoft.graph.conflictBehavior") or body.get("@microsoft.graph.conflictBehavior")
        )
        existing = parent.children.get(name.lower())
        if existing is not None:
            if conflict == "fail" or not existing.is_folder:
                return graph_error(409, "nameAlreadyExists", "The specified item name already exists.")
            return Response.json(200, self.item_json(drive, existing))
        return Response.json(201, self.item_json(drive, self._add_child(drive, parent, name)))

    def _add_child(self, drive: Drive, parent: Item, name: str, blob=None) -> Item:
        """A new folder (no blob) or file under parent. Call with the lock held."""
        now = self.state.now()
        item = Item(
            id=self.state.new_item_id(drive),
            name=name,
            parent=parent,
            is_folder=blob is None,
            created=now,
            modified=now,
            blob=blob,
        )
        parent.children[name.lower()] = item
        parent.modified = now
        drive.items[item.id] = item
        return item

    def _conflict_behaviour(self, value: str | None) -> str:
        value = value or DEFAULT_CONFLICT
        if value not in CONFLICT_BEHAVIOURS:
            raise GraphFailure(
                graph_error(
                    400, "invalidRequest", f"Invalid value '{value}' for @microsoft.graph.conflictBehavior."
                )
            )
        return value

    def _store(self, drive: Drive, base: Item, segments: list[str], blob, conflict: str) -> tuple[Item, bool]:
        """Put `blob` at base/segments; (item, created). Call with the state lock held."""
        s = self.state
        name = segments[-1]
        parent: Item | None = base
        for folder in segments[:-1]:
            nxt = parent.children.get(folder.lower()) if parent else None
            if nxt is not None and not nxt.is_folder:
                raise GraphFailure(
                    graph_error(409, "nameAlreadyExists", f"'{folder}' is a file, not a folder.")
                )
            parent = nxt
        existing = parent.children.get(name.lower()) if parent else None
        if existing is not None and (existing.is_folder or conflict == "fail"):
            raise GraphFailure(
                graph_error(409, "nameAlreadyExists", "The specified item name already exists.")
            )
        replacing = existing is not None and conflict == "replace"
        if not drive.fits(blob.size - (existing.size if replacing else 0)):
            raise GraphFailure(graph_error(507, "quotaLimitReached", "Insufficient Space Available"))

        now = s.now()
        parent = base
        for folder in segments[:-1]:
            nxt = parent.children.get(folder.lower())
            if nxt is None:
                nxt = self._add_child(drive, parent, folder)
            parent = nxt
        if replacing:
            existing.blob.delete()
            existing.blob = blob
            existing.version += 1
            existing.modified = now
            return existing, False
        if existing is not None:  # rename: OneDrive appends " 1", " 2", ... before the extension
            stem, dot, ext = name.rpartition(".")
            if not stem:
                stem, dot, ext = name, "", ""
            n = 1
            while f"{stem} {n}{dot}{ext}".lower() in parent.children:
                n += 1
            name = f"{stem} {n}{dot}{ext}"
        return self._add_child(drive, parent, name, blob), True

    def _simple_upload(self, req: Request, drive: Drive, base_id, segments) -> Response:
        s = self.state
        limit = s.settings.simple_upload_limit
        conflict = self._conflict_behaviour(req.arg("@microsoft.graph.conflictBehavior"))
        too_large = graph_error(
            413,
            "requestBodyTooLarge",
            f"The request body is larger than {limit} bytes: use an upload session.",
        )
        if req.body.declared_length is not None and req.body.declared_length > limit:
            return too_large
        base = None
        if segments is None:
            # PUT /items/{id}/content replaces that file's content.
            with s.lock:
                target = self._resolve(drive, base_id, None)
                if target is None or target.is_folder or target.parent is None:
                    return not_found()
                base, segments, conflict = target.parent, [target.name], "replace"
        elif not segments:
            return graph_error(400, "invalidRequest", "A file name is required.")
        try:
            data = req.body.read_all(limit)
        except BodyTooLarge:
            return too_large
        with s.lock:
            if not drive.fits(0):
                return graph_error(507, "quotaLimitReached", "Insufficient Space Available")
            base = base or self._base_folder(drive, base_id)
            blob = s.blobs.put(data)
            try:
                item, created = self._store(drive, base, segments, blob, conflict)
            except GraphFailure:
                blob.delete()
                raise
            return Response.json(201 if created else 200, self.item_json(drive, item))

    def _create_session(self, req: Request, drive: Drive, base_id, segments) -> Response:
        s = self.state
        if not segments:
            return graph_error(400, "invalidRequest", "createUploadSession needs a path to the new file.")
        try:
            body = req.json() or {}
        except ValueError:
            return graph_error(400, "invalidRequest", "The request body is not valid JSON.")
        props = body.get("item") or {} if isinstance(body, dict) else {}
        conflict = self._conflict_behaviour(
            props.get("@microsoft.graph.conflictBehavior") or req.arg("@microsoft.graph.conflictBehavior")
        )
        file_size = props.get("fileSize")
        if file_size is not None and (not isinstance(file_size, int) or file_size < 0):
            return graph_error(400, "invalidRequest", "fileSize must be a non-negative integer.")
        with s.lock:
            base = self._base_folder(drive, base_id)
            if not drive.fits(max(file_size or 0, 1)):
                return graph_error(507, "quotaLimitReached", "Insufficient Space Available")
            now = s.now()
            session = UploadSession(
                id=secrets.token_urlsafe(32),
                drive=drive,
                base=base,
                segments=list(segments),
                conflict=conflict,
                created=now,
                expires_at=now + s.settings.upload_session_idle,
                writer=s.blobs.writer(),
                file_size_hint=file_size,
            )
            s.sessions[session.id] = session
        return Response.json(
            200,
            {
                "@odata.context": f"{s.base_url}/v1.0/$metadata#microsoft.graph.uploadSession",
                "uploadUrl": f"{s.base_url}/upload/{session.id}",
                "expirationDateTime": iso(session.expires_at),
                "nextExpectedRanges": ["0-"],
            },
        )

    # --- upload URL -----------------------------------------------------

    def upload_url(self, req: Request) -> Response:
        s = self.state
        if req.header("Authorization") is not None:
            # Graph rejects its own bearer token here: the URL is its own credential.
            return graph_error(
                401,
                "unauthenticated",
                "The uploadUrl is pre-authenticated: do not send an Authorization header.",
            )
        session_id = req.path[len("/upload/") :]
        now = s.now()
        with s.lock:
            session = s.sessions.get(session_id)
            if session is not None and now > session.created + s.settings.upload_session_hard_limit:
                self._drop(session)
                return graph_error(401, "unauthenticated", "The upload session has expired.")
            if session is None or now > session.expires_at:
                if session is not None:
                    self._drop(session)
                return not_found("The upload session was not found or has expired.")
        if req.method == "GET":
            with session.lock:
                return Response.json(200, self._session_status(session))
        if req.method == "DELETE":
            with s.lock:
                self._drop(session)
            return Response(204)
        if req.method == "PUT":
            try:
                return self._fragment(req, session)
            except GraphFailure as failure:
                return failure.response
        return graph_error(405, "invalidRequest", "Method not allowed")

    def _session_status(self, session: UploadSession) -> dict:
        return {
            "expirationDateTime": iso(session.expires_at),
            "nextExpectedRanges": [f"{session.received}-"],
        }

    def _drop(self, session: UploadSession) -> None:
        if self.state.sessions.pop(session.id, None) is not None:
            session.writer.discard()

    def _fragment(self, req: Request, session: UploadSession) -> Response:
        s = self.state
        settings = s.settings
        length = req.body.declared_length
        if length is None:
            return graph_error(411, "lengthRequired", "A Content-Length header is required.")
        m = _CONTENT_RANGE.fullmatch(req.header("Content-Range") or "")
        if not m:
            return graph_error(
                400,
                "invalidRequest",
                "The Content-Range header is missing or malformed.",
                "invalidContentRangeHeader",
            )
        first, last, total = (int(g) for g in m.groups())
        if last < first or last >= total:
            return graph_error(
                400, "invalidRequest", "The Content-Range header is not valid.", "invalidContentRangeHeader"
            )
        size = last - first + 1
        if size != length:
            return graph_error(
                400,
                "invalidRequest",
                "The Content-Range header length does not match the provided number of bytes.",
                "fragmentLengthMismatch",
            )
        with session.lock:
            if s.sessions.get(session.id) is not session:
                return not_found("The upload session was not found or has expired.")
            if session.total is not None and total != session.total:
                return graph_error(
                    400,
                    "invalidRequest",
                    f"The current upload session is for {session.total} total bytes, but the current "
                    f"fragment declares a total of {total}.",
                    "fragmentTotalMismatch",
                )
            expected = session.received
            if first < expected:
                return graph_error(
                    416,
                    "invalidRange",
                    f"The uploaded fragment overlaps with data that has already been received (next expected byte {expected}).",
                    "fragmentOverlap",
                )
            if first > expected:
                return graph_error(
                    416,
                    "invalidRange",
                    f"The uploaded fragment starts at byte {first}, but the next expected byte is {expected}.",
                    "fragmentOutOfOrder",
                )
            if size >= settings.fragment_limit:
                return graph_error(
                    400,
                    "invalidRequest",
                    f"A fragment must be smaller than {settings.fragment_limit} bytes.",
                    "fragmentTooLarge",
                )
            is_last = last + 1 == total
            if not is_last and size % settings.fragment_multiple:
                return graph_error(
                    400,
                    "invalidRequest",
                    f"Every fragment but the last must be a multiple of {settings.fragment_multiple} bytes.",
                    "invalidFragmentSize",
                )
            with s.lock:
                existing = self._walk(session.base, session.segments)
                refund = (
                    existing.size
                    if existing and session.conflict == "replace" and not existing.is_folder
                    else 0
                )
                if not session.drive.fits(total - refund):
                    return graph_error(507, "quotaLimitReached", "Insufficient Space Available")
            session.total = total
            checkpoint = session.writer.checkpoint()
            try:
                while not req.body.finished:
                    session.writer.write(req.body.read())
            except (IncompleteBody, OSError):
                # A fragment cut off midway is not kept: the client resends it whole.
                session.writer.rollback(checkpoint)
                raise IncompleteBody() from None
            session.ranges.append((first, last))
            session.expires_at = s.now() + settings.upload_session_idle
            if not is_last:
                return Response.json(202, self._session_status(session))
            with s.lock:
                s.sessions.pop(session.id, None)
                blob = session.writer.commit()
                try:
                    item, created = self._store(
                        session.drive, session.base, session.segments, blob, session.conflict
                    )
                except GraphFailure:
                    blob.delete()
                    raise
                return Response.json(201 if created else 200, self.item_json(session.drive, item))

    # --- download URL ---------------------------------------------------

    def download(self, req: Request) -> Response:
        s = self.state
        if req.method not in ("GET", "HEAD"):
            return graph_error(405, "invalidRequest", "Method not allowed")
        token = req.path[len("/download/") :]
        with s.lock:
            ticket = s.tickets.get(token)
            item = ticket.drive.items.get(ticket.item_id) if ticket else None
            if ticket is None:
                return not_found()
            if s.now() > ticket.expires_at:
                return graph_error(
                    401, "unauthenticated", "The download URL has expired: ask Graph for a new one."
                )
            if item is None or item.is_folder:
                return not_found()
            blob, etag, modified = item.blob, self.etag(item), item.modified
            name, mime = item.name, item.mime_type
        size = blob.size
        headers = {
            "Content-Type": mime,
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Last-Modified": formatdate(modified, usegmt=True),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        }
        first, last, status = 0, size - 1, 200
        if req.header("Range"):
            wanted = parse_range(req.header("Range"), size)
            if wanted == "unsatisfiable":
                failure = graph_error(416, "invalidRange", "The requested range is not satisfiable.")
                failure.headers["Content-Range"] = f"bytes */{size}"
                return failure
            if wanted:
                first, last = wanted
                status = 206
                headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        stream = blob.open()
        stream.seek(first)
        return Response(status, headers=headers, stream=stream, length=max(last - first + 1, 0))
