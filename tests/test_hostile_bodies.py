"""Request bodies that stall, trickle, stop or never end, against gunicorn as the Procfile runs it.

Raw sockets, since an HTTP client library would not send such bodies. The site
runs with a short IMGBED_BODY_TIMEOUT so the tests do not wait long; none of
them measures time: each waits for the site's answer.
"""

import json
import socket
import sqlite3
import threading

import pytest
import requests

from tests.files import png
from tests.gunicorn_site import procfile_site, read_response

TIMEOUT = 2
MIN_RATE = 200
BOUNDARY = "hostileboundary"


@pytest.fixture(scope="module")
def running_site(tmp_path_factory):
    with procfile_site(
        tmp_path_factory.mktemp("bodies"), IMGBED_BODY_TIMEOUT=TIMEOUT, IMGBED_BODY_MIN_RATE=MIN_RATE
    ) as running:
        yield running


@pytest.fixture
def site(running_site):
    """The shared site, with no file from an earlier test."""
    with sqlite3.connect(running_site.data_dir / "db.sqlite3") as db:
        db.execute("DELETE FROM uploads_storedfile")
    for path in running_site.staged_files():
        path.unlink()
    return running_site


def multipart(data: bytes, name="pic.png") -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def request_head(site, length=None, chunked=False) -> bytes:
    lines = [
        f"POST /upload?authCode={site.upload_code} HTTP/1.1",
        f"Host: 127.0.0.1:{site.port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
    ]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_nothing_kept(site):
    assert site.rows() == 0
    assert site.staged_files() == []
    assert site.answers()  # and the site still serves others


def test_a_whole_body_is_taken(site):
    """The baseline the others are measured against: the same socket code, a complete body."""
    picture = png(3000)
    body = multipart(picture)
    with site.connect() as sock:
        sock.sendall(request_head(site, len(body)) + body)
        status, _, answer = read_response(sock)
    assert status == 200, answer
    assert json.loads(answer)[0]["src"].startswith("/file/")
    with site.connect() as sock:
        sock.sendall(f"GET {json.loads(answer)[0]['src']} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        status, headers, served = read_response(sock)
    assert status == 200 and served == picture
    assert site.rows() == 1


def test_a_body_that_stalls_is_answered_408_in_words(site):
    body = multipart(png(50_000))
    with site.connect() as sock:
        # Headers and the first half, then nothing: the connection stays open.
        sock.sendall(request_head(site, len(body)) + body[: len(body) // 2])
        status, headers, answer = read_response(sock)
    assert status == 408, answer
    assert headers["content-type"] == "application/json"
    error = json.loads(answer)["error"]
    assert f"waits at most {TIMEOUT} s" in error and "Send the request again" in error
    assert_nothing_kept(site)


def test_a_body_that_trickles_is_cut_off(site):
    """One byte at a time, each well within the wait for the next: the average rate is what fails."""
    body = multipart(png(50_000))
    answered = threading.Event()
    with site.connect() as sock:
        sock.sendall(request_head(site, len(body)) + body[:200])

        def trickle():
            for i in range(200, len(body)):
                if answered.wait(TIMEOUT / 8):
                    return
                try:
                    sock.send(body[i : i + 1])
                except OSError:
                    return  # the site shut its side

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            status, _, answer = read_response(sock)
        finally:
            answered.set()
            sender.join()
    assert status == 408, answer
    assert f"{MIN_RATE} bytes per second" in json.loads(answer)["error"]
    assert_nothing_kept(site)


def test_a_chunked_body_is_refused_unread_in_words(site):
    with site.connect() as sock:
        # A chunked body that never ends: one chunk, then silence.
        start = multipart(png(1000))[:500]
        sock.sendall(request_head(site, chunked=True) + f"{len(start):x}\r\n".encode() + start + b"\r\n")
        status, _, answer = read_response(sock)
    assert status == 411, answer
    assert "Content-Length" in json.loads(answer)["error"]
    assert_nothing_kept(site)


def test_a_client_that_goes_away_mid_body_leaves_nothing(site):
    body = multipart(png(80_000))
    logged = site.web.output().count("POST /upload")
    with site.connect() as sock:
        sock.sendall(request_head(site, len(body)) + body[: len(body) // 2])
        sock.close()
    # Nothing to read an answer from: the site's state is the proof, once it has given the request up.
    site.web.wait_until(
        lambda: site.web.output().count("POST /upload") > logged, timeout=60, what="the access log line"
    )
    assert_nothing_kept(site)


def test_a_body_shorter_than_declared_is_not_stored(site):
    """The client half-closes after part of the body: the file is cut, and must not be kept as if whole."""
    body = multipart(png(80_000))
    with site.connect() as sock:
        sock.sendall(request_head(site, len(body)) + body[:-5000])
        sock.shutdown(socket.SHUT_WR)
        status, _, answer = read_response(sock)
    assert status == 400, answer
    assert "ended before the file did" in json.loads(answer)["error"]
    assert_nothing_kept(site)


def test_a_stalled_form_elsewhere_on_the_site_is_a_408_too(site):
    """Not only the upload view: whatever view was reading (here the admin's sign-in form), the words."""
    with requests.Session() as http:
        http.trust_env = False
        csrf = http.get(f"{site.url}/admin/login/", timeout=30).cookies["csrftoken"]
    body = f"csrfmiddlewaretoken={csrf}&username=a&password=".encode() + b"x" * 500
    head = (
        f"POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\nCookie: csrftoken={csrf}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with site.connect() as sock:
        sock.sendall(head + body[:100])
        status, headers, answer = read_response(sock)
    assert status == 408, answer
    assert headers["content-type"].startswith("text/plain")
    assert b"did not arrive in time" in answer
    # A client's stalled body is no fault of the site's: no server error in its log.
    log = site.web.output()
    assert "Bad Request: /admin/login/" in log or "did not arrive in time" in log
    assert "Internal Server Error: /admin/login/" not in log


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def run_app(monkeypatch, chunks, advance, min_rate=100):
    """BodyDeadline around an app reading `chunks` (no gunicorn socket: checked between reads),
    the clock moved on by `advance[i]` during read i; (status, body, what the app saw)."""
    import io

    from imgbed_site import body_deadline

    clock = Clock()
    monkeypatch.setattr(body_deadline.time, "monotonic", clock)
    data = b"".join(chunks)
    seen = {}

    class Stream(io.BytesIO):
        def read(self, size=-1):
            clock.now += advance.pop(0) if advance else 0
            return super().read(size)

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        try:
            for chunk in chunks:
                stream.read(len(chunk))
            seen["read"] = "all"
            clock.now += 10_000  # the view takes its time once the body is in
        except body_deadline.BodyTimedOut as exc:
            seen["read"] = str(exc)
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"the view's own answer"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"stored"]

    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"] = status

    middleware = body_deadline.BodyDeadline(app, timeout=30, min_rate=min_rate)
    environ = {"CONTENT_LENGTH": str(len(data)), "wsgi.input": Stream(data), "PATH_INFO": "/upload"}
    body = b"".join(middleware(environ, start_response))
    return answered["status"], body, seen["read"]


def test_without_gunicorn_a_slow_body_is_caught_between_reads(monkeypatch):
    # After 1000 bytes the body may have taken 30 s + 10 s at 100 bytes per second; the second read
    # ends at 45 s, with 500 bytes still to come. (A last read that completes the body is let be.)
    status, body, seen = run_app(monkeypatch, [b"x" * 500, b"y" * 500, b"z" * 500], advance=[1, 44])
    assert status.startswith("408")
    assert "did not arrive in time" in seen
    assert b"100 bytes per second" in body and b'"error"' in body


def test_a_body_all_in_is_not_cut_off_however_long_the_view_takes(monkeypatch):
    status, body, seen = run_app(monkeypatch, [b"x" * 500, b"y" * 500], advance=[1, 1])
    assert (status, body, seen) == ("200 OK", b"stored", "all")
