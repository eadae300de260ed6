"""HTTPS plumbing: a threading server on loopback that hands each request to
the emulator as a small Request and writes back its Response.

TLS is negotiated in the connection's own thread, so a client that stalls in
the handshake never blocks the accept loop.
"""

import json
import logging
import socket
import ssl
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

from .requestlog import LoggedRequest

log = logging.getLogger("tests.emulator")

# Bodies of answered-early requests are read and thrown away up to this size so
# the client sees the answer; past it the connection is closed instead.
DRAIN_LIMIT = 256 * 1024 * 1024
_LOGGED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Range",
    "Range",
    "Transfer-Encoding",
    "client-request-id",
    "User-Agent",
)


class IncompleteBody(Exception):
    """The client closed the connection before sending the whole body."""


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


class BodyReader:
    """The request body, from Content-Length or chunked transfer coding."""

    def __init__(self, rfile, headers):
        self._rfile = rfile
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        raw_length = headers.get("Content-Length")
        self.declared_length: int | None = None
        if raw_length is not None and not self.chunked:
            if not raw_length.strip().isdigit():
                raise BadBody(f"invalid Content-Length {raw_length!r}")
            self.declared_length = int(raw_length)
        self._left = self.declared_length or 0
        self._chunk_left = 0
        self._finished = not self.chunked and self._left == 0
        self.received = 0

    @property
    def finished(self) -> bool:
        return self._finished

    def read(self, n: int = 1024 * 1024) -> bytes:
        if self._finished:
            return b""
        data = self._read_chunked(n) if self.chunked else self._read_plain(n)
        self.received += len(data)
        return data

    def _read_plain(self, n: int) -> bytes:
        data = self._rfile.read(min(n, self._left))
        if not data:
            raise IncompleteBody()
        self._left -= len(data)
        if self._left == 0:
            self._finished = True
        return data

    def _read_chunked(self, n: int) -> bytes:
        if self._chunk_left == 0:
            line = self._rfile.readline(1024)
            if not line:
                raise IncompleteBody()
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._finished = True
                return b""
            self._chunk_left = size
        data = self._rfile.read(min(n, self._chunk_left))
        if not data:
            raise IncompleteBody()
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(1024)  # CRLF after the chunk
        return data

    def read_all(self, limit: int) -> bytes:
        parts = []
        size = 0
        while not self._finished:
            chunk = self.read()
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            parts.append(chunk)
        return b"".join(parts)

    def drain(self, limit: int = DRAIN_LIMIT) -> bool:
        """Read the rest and discard it; False if the connection must be closed instead."""
        try:
            if self.declared_length is not None and self._left > limit:
                return False
            drained = 0
            while not self._finished:
                drained += len(self.read())
                if drained > limit:
                    return False
            return True
        except (IncompleteBody, OSError, ValueError):
            return False


class Request:
    def __init__(self, method: str, target: str, headers, rfile):
        self.method = method
        split = urlsplit(target)
        self.path = split.path  # still percent-encoded: segments are decoded one by one
        self.query_string = split.query
        self.query = parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = BodyReader(rfile, headers)
        self.kind = "other"
        self.grant_type: str | None = None
        self._form: dict[str, str] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def form(self, limit: int = 1024 * 1024) -> dict[str, str]:
        if self._form is None:
            data = self.body.read_all(limit).decode("utf-8", "replace")
            self._form = {k: v[0] for k, v in parse_qs(data, keep_blank_values=True).items()}
        return self._form

    def json(self, limit: int = 1024 * 1024):
        data = self.body.read_all(limit)
        if not data.strip():
            return None
        return json.loads(data)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    stream: BinaryIO | None = None  # send `length` bytes from its current position, then close it
    length: int | None = None
    close: bool = False  # close the connection after answering
    abort: bool = False  # drop the connection without answering
    injected: bool = False

    @classmethod
    def json(cls, status: int, obj, headers: dict | None = None) -> "Response":
        h = {"Content-Type": "application/json; charset=utf-8"}
        h.update(headers or {})
        return cls(status, json.dumps(obj).encode("utf-8"), h)

    @classmethod
    def html(cls, status: int, text: str, headers: dict | None = None) -> "Response":
        h = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        h.update(headers or {})
        return cls(status, text.encode("utf-8"), h)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> "Response":
        return cls(status, b"", {"Location": location, "Cache-Control": "no-store"})


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without this, each answer waits
    # for the client's delayed ACK (about 40 ms) under Nagle's algorithm.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "graph-emulator"
    sys_version = ""
    # Idle keep-alive connections give their thread back after this long.
    timeout = 30

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)

    def _serve(self) -> None:
        emulator = self.server.emulator
        started, wall = time.monotonic(), time.time()
        try:
            req = Request(self.command, self.path, self.headers, self.rfile)
        except BadBody as exc:
            self._write(Response.json(400, {"error": {"code": "invalidRequest", "message": str(exc)}}), None)
            self.close_connection = True
            return
        try:
            resp = emulator._dispatch(req)
        except IncompleteBody:
            resp = Response(0, abort=True)
        except Exception:
            log.error("emulator handler failed:\n%s", traceback.format_exc())
            resp = Response.json(500, {"error": {"code": "generalException", "message": "emulator error"}})
        if not resp.abort and not req.body.drain():
            resp.close = True
        # Logged before the answer goes out, so a client that has its answer
        # always finds its request in the log.
        emulator._log.append(
            LoggedRequest(
                monotonic=started,
                wall=wall,
                method=req.method,
                path=req.path,
                query=req.query_string,
                kind=req.kind,
                status=0 if resp.abort else resp.status,
                authorization=req.header("Authorization") is not None,
                content_range=req.header("Content-Range"),
                content_length=req.body.declared_length,
                range=req.header("Range"),
                retry_after=resp.headers.get("Retry-After"),
                injected=resp.injected,
                body_bytes=req.body.received,
                grant_type=req.grant_type,
                headers={h: req.header(h) for h in _LOGGED_HEADERS if req.header(h) is not None},
            )
        )
        if resp.abort:
            if resp.stream:
                resp.stream.close()
            self.close_connection = True
            return
        self._write(resp, req)

    def _write(self, resp: Response, req: Request | None) -> None:
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, str(value))
        length = resp.length if resp.stream is not None else len(resp.body)
        if resp.status not in (204, 304) and resp.status >= 200:
            self.send_header("Content-Length", str(length))
        if resp.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            if self.command == "HEAD" or resp.status in (204, 304):
                return
            if resp.stream is None:
                self.wfile.write(resp.body)
                return
            left = length
            while left > 0:
                chunk = resp.stream.read(min(left, 1024 * 1024))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)
        finally:
            if resp.stream is not None:
                resp.stream.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, ssl_context: ssl.SSLContext, emulator):
        self.ssl_context = ssl_context
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        request.settimeout(_Handler.timeout)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            _Handler(tls, client_address, self)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # A client hanging up mid-request is routine in failure tests; keep stderr quiet.
        log.debug("connection from %s failed:\n%s", client_address, traceback.format_exc())

    def close_connections(self) -> None:
        """Kick idle keep-alive connections, so a stopped emulator really stops."""
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
