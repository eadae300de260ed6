"""A bound on how long a request body may take to arrive (IMGBED_BODY_TIMEOUT).

gunicorn bounds the wait for a request's headers, not for its body: a client
that sends the headers and then nothing more (or a chunked body that never
ends, or one byte now and then) holds a worker thread for as long as it
likes. This WSGI middleware wraps `wsgi.input` so that:

- no read waits more than IMGBED_BODY_TIMEOUT seconds for the next bytes
  (a timeout on the connection's socket, which gunicorn gives the app as
  `gunicorn.socket`);
- beyond the first IMGBED_BODY_TIMEOUT seconds the body arrives on average at
  IMGBED_BODY_MIN_RATE bytes per second or faster: a watchdog thread shuts
  the reading side of a connection that falls behind, which ends its reads.

Either way the view sees BodyTimedOut while reading (the upload view drops
what it received and answers 408), and whatever a view answered, the
client gets a 408 with the reason in words. Servers without
`gunicorn.socket` (runserver, the test client) get the check between reads only.
"""

import heapq
import json
import socket
import threading
import time

from django.core.exceptions import BadRequest

TIMED_OUT = "imgbed.body_timed_out"


class BodyTimedOut(BadRequest):
    """The request body did not arrive in time. A BadRequest, so a stalled body read by a
    middleware (CSRF reading a form) is logged by Django as a bad request, not a server error."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _message(timeout, min_rate):
    text = f"The request body did not arrive in time: the site waits at most {timeout:g} s for more of it"
    if min_rate:
        text += f", and it must arrive at {min_rate} bytes per second or faster"
    return text + ". Send the request again on a steadier connection."


class _Body:
    """One request's body as it arrives: what its deadline is counted from."""

    def __init__(self, stream, sock, length, timeout, min_rate):
        self.stream = stream
        self.sock = sock
        self.length = length  # the declared Content-Length; None for a chunked body
        self.timeout = timeout
        self.min_rate = min_rate
        self.started = time.monotonic()
        self.received = 0
        self.expired = False  # the watchdog cut it off
        self.timed_out = False  # ... and the app was told (BodyTimedOut)
        self.done = False  # all of it read, or the app finished: the clock stops
        self._original_timeout = sock.gettimeout() if sock is not None else None

    def deadline(self) -> float:
        """When the body falls behind the minimum rate."""
        return self.started + self.timeout + self.received / self.min_rate

    def expire(self):
        """The watchdog's (under its lock, so never once stopped): the read in progress ends, the next ones fail."""
        self.expired = True
        try:
            # socket.socket's own shutdown: an SSLSocket's would drop its TLS state, and the 408
            # would then go out in plaintext on a TLS connection (gunicorn --certfile).
            socket.socket.shutdown(self.sock, socket.SHUT_RD)
        except OSError:
            pass  # already closed by the client

    def stop(self):
        """No more deadline: the body is all in, or the app is done with it. Once this has
        returned the watchdog cannot cut the connection, so a finished upload's answer stands."""
        with _watchdog.lock:
            self.done = True

    def finish(self):
        self.stop()
        if self.sock is not None:
            try:
                self.sock.settimeout(self._original_timeout)  # gunicorn writes the answer as it would have
            except OSError:
                pass
        self.stream = self.sock = None  # the watchdog's heap may hold this a while


class _Watchdog:
    """One thread for every body in progress (under gunicorn, with a minimum rate): it wakes at
    the earliest deadline and cuts off a body still behind it."""

    def __init__(self):
        self._heap = []  # (deadline, sequence, body)
        self._sequence = 0
        self.lock = threading.Condition()
        self._thread = None

    def watch(self, body: _Body):
        with self.lock:
            self._push(body)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
                self._thread.start()
            self.lock.notify()

    def _push(self, body):
        self._sequence += 1
        heapq.heappush(self._heap, (body.deadline(), self._sequence, body))

    def _run(self):
        with self.lock:
            while True:
                if not self._heap:
                    self.lock.wait()
                    continue
                deadline, _, body = self._heap[0]
                now = time.monotonic()
                if deadline > now:
                    self.lock.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
                if body.done:
                    continue
                if body.deadline() > now:
                    self._push(body)  # more bytes came since: a later deadline
                else:
                    body.expire()


_watchdog = _Watchdog()


class DeadlineInput:
    """`wsgi.input` whose reads end at the body's deadline (BodyTimedOut)."""

    def __init__(self, body: _Body):
        self._body = body

    def _timed_out(self):
        body = self._body
        body.timed_out = True
        return BodyTimedOut(_message(body.timeout, body.min_rate))

    def _read(self, method, *args):
        body = self._body
        if body.expired or body.timed_out:
            raise self._timed_out()
        if body.done:
            return method(*args)  # all of it was read: what follows is the end
        if body.sock is not None:
            body.sock.settimeout(body.timeout)
        try:
            data = method(*args)
        except Exception as exc:
            if body.expired or isinstance(exc, TimeoutError):
                raise self._timed_out() from exc
            raise
        if body.expired:
            raise self._timed_out()  # cut off during this read: what came is not the whole body
        body.received += len(data) if isinstance(data, (bytes, bytearray)) else sum(map(len, data))
        if not data or (body.length is not None and body.received >= body.length):
            body.stop()  # all in: what the app does with it takes the time it takes
        elif body.sock is None and body.min_rate and time.monotonic() > body.deadline():
            raise self._timed_out()
        return data

    def read(self, size=-1):
        return self._read(self._body.stream.read, size)

    def readline(self, size=-1):
        return self._read(self._body.stream.readline, size)

    def readlines(self, hint=-1):
        return self._read(self._body.stream.readlines, hint)

    def __iter__(self):
        while line := self.readline():
            yield line


class BodyDeadline:
    """WSGI middleware: bounds the time a request body may take (see the module's docstring)."""

    def __init__(self, app, timeout: float, min_rate: int):
        self.app = app
        self.timeout = timeout
        self.min_rate = min_rate

    def __call__(self, environ, start_response):
        length = _length(environ)
        if not self.timeout or length == 0:
            return self.app(environ, start_response)
        sock = environ.get("gunicorn.socket")
        if not isinstance(sock, socket.socket):
            sock = None
        body = _Body(environ["wsgi.input"], sock, length, self.timeout, self.min_rate)
        environ["wsgi.input"] = DeadlineInput(body)
        if sock is not None and self.min_rate:
            _watchdog.watch(body)
        deferred = _DeferredStart(start_response)
        try:
            result = self.app(environ, deferred)
        finally:
            body.finish()
        if not body.timed_out:
            deferred.forward()
            return result
        # The app was told and answered as it could (the upload view with its own 408, another
        # view maybe with a 500): the client gets the reason.
        environ[TIMED_OUT] = True
        if hasattr(result, "close"):
            result.close()
        return _timed_out(environ, start_response, _message(self.timeout, self.min_rate))


class _DeferredStart:
    """start_response held back until the app has returned: a timed-out body's answer replaces the app's."""

    def __init__(self, start_response):
        self._start_response = start_response
        self._call = None
        self._write = None

    def __call__(self, status, headers, exc_info=None):
        self._call = (status, headers, exc_info)
        return self._write_through

    def forward(self):
        if self._call is not None and self._write is None:
            self._write = self._start_response(*self._call)

    def _write_through(self, data):
        # The legacy write() callable: headers go first.
        self.forward()
        return self._write(data)


def _length(environ) -> int | None:
    """The declared body length; None for a chunked body."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _timed_out(environ, start_response, message):
    path = environ.get("PATH_INFO", "")
    if path == "/upload" or path.startswith("/api/"):
        payload = json.dumps({"error": message}).encode()
        content_type = "application/json"
    else:
        payload = (message + "\n").encode()
        content_type = "text/plain; charset=utf-8"
    start_response(
        "408 Request Timeout",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(payload))),
            ("Access-Control-Allow-Origin", "*"),
            ("X-Content-Type-Options", "nosniff"),
        ],
        None,
    )
    return [payload]
