"""Staging in an S3 bucket, for a web process and workers on different machines.

The bucket is the session's moto server (tests.s3server), reached through a small
counting proxy started here, which records every request the site makes to it: the
method, the key, the Range header, and how many body bytes it handed back. That is
how the tests see that a resumed upload reads only what it still needs.

The two-hosts test runs the Procfile's web line (gunicorn) with one data directory
and Celery workers with another; they share the database, the broker and the bucket.
With the filesystem broker (the laptop default, a folder) that folder is the one
thing both data directories point at, standing in for Redis.
"""

import base64
import datetime
import http.client
import io
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.utils import timezone

from channels.models import Channel
from channels.onedrive import upload
from channels.quickxorhash import QuickXorHash, quickxorhash_b64
from tests.files import png
from tests.fragments import assert_disjoint, fragments
from tests.processes import Spawned, clean_env, free_port
from tests.worker import database_url, wait_for
from uploads import staging
from uploads.models import StoredFile, UploadCode

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
S3_BACKEND = "storages.backends.s3.S3Storage"
FRAGMENT = 327680  # 320 KiB, the smallest fragment Graph takes
CODE = "staging-s3-code"

# Hop-by-hop headers: the proxy's own business with each side, not forwarded.
_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "proxy-connection",
}


@dataclass(eq=False)
class Exchange:
    """One request the proxy passed on, and how much of the answer's body reached the client."""

    method: str
    key: str  # the path without the bucket, e.g. "staging-ab12/0123abcd..."
    query: str
    range: str | None
    status: int
    sent: int  # body bytes written to the client so far
    complete: bool  # the whole body was written (False: cut on purpose or the client went away)
    done: bool  # the proxy is through with it
    monotonic: float


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that closed its connection midway (a GET dropped unread, a killed worker).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CountingProxy:
    """An HTTP proxy on loopback in front of the S3 server, logging each exchange.

    `cut_next_get_after(n)` makes the next GET's connection drop after n body bytes,
    as a network failure would."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname, parts.port)
        self._lock = threading.Lock()
        self._log: list[Exchange] = []
        self._cut: int | None = None
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    @property
    def log(self) -> list[Exchange]:
        with self._lock:
            return list(self._log)

    def settled(self) -> list[Exchange]:
        """The log once every exchange in it is over (a client that stopped reading has gone)."""
        return wait_for(
            lambda: (log := self.log) and all(e.done for e in log) and log, timeout=30, what="the proxy"
        )

    def clear(self):
        with self._lock:
            self._log.clear()

    def cut_next_get_after(self, n: int):
        with self._lock:
            self._cut = n

    def _take_cut(self, method):
        with self._lock:
            if method != "GET" or self._cut is None:
                return None
            cut, self._cut = self._cut, None
            return cut

    def _record(self, exchange):
        with self._lock:
            self._log.append(exchange)

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(body)
                        body += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            def _forward(self):
                method = self.command
                started = time.monotonic()
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    upstream.request(method, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    out_headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP]
                    payload = None
                    if method != "HEAD" and answer.getheader("Content-Length") is None:
                        payload = answer.read()
                        out_headers.append(("Content-Length", str(len(payload))))
                    self.send_response(answer.status, answer.reason)
                    for k, v in out_headers:
                        self.send_header(k, v)
                    self.end_headers()
                    path, _, query = self.path.partition("?")
                    exchange = Exchange(
                        method,
                        path.lstrip("/").partition("/")[2],
                        query,
                        self.headers.get("Range"),
                        answer.status,
                        0,
                        True,
                        False,
                        started,
                    )
                    proxy._record(exchange)
                    cut = proxy._take_cut(method)
                    try:
                        while method != "HEAD":
                            chunk = payload if payload is not None else answer.read(64 * 1024)
                            payload = b"" if payload is not None else None
                            if not chunk:
                                break
                            if cut is not None and exchange.sent + len(chunk) >= cut:
                                self.wfile.write(chunk[: cut - exchange.sent])
                                exchange.sent = cut
                                exchange.complete = False
                                self.close_connection = True
                                break
                            self.wfile.write(chunk)
                            exchange.sent += len(chunk)
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        exchange.complete = False
                        self.close_connection = True
                    exchange.done = True
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        return Handler


@pytest.fixture
def s3_proxy(s3_server):
    proxy = CountingProxy(s3_server.url)
    yield proxy
    proxy.stop()


def staging_options(proxy, server, prefix) -> dict:
    """IMGBED_STAGING_OPTIONS as docs/staging.md describes them."""
    return {
        "bucket_name": server.bucket,
        "endpoint_url": proxy.url,
        "access_key": server.access_key_id,
        "secret_key": server.secret_access_key,
        "region_name": server.region,
        "location": prefix,
        "addressing_style": "path",
    }


@pytest.fixture
def prefix():
    return f"staging-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def s3_staging(settings, s3_proxy, s3_server, prefix):
    """This process's staging is the bucket (through the proxy), under its own prefix."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staging": {"BACKEND": S3_BACKEND, "OPTIONS": staging_options(s3_proxy, s3_server, prefix)},
    }
    assert not staging.is_local()
    return prefix


def keys(server, prefix) -> set[str]:
    listed = server.client().list_objects_v2(Bucket=server.bucket, Prefix=f"{prefix}/")
    return {entry["Key"] for entry in listed.get("Contents", ())}


def put(server, key, data):
    server.client().put_object(Bucket=server.bucket, Key=key, Body=data)


# --- staging.py against the bucket ------------------------------------------


@pytest.mark.parametrize("offset", [1, 700_001, 2 * 1024 * 1024 - 1])
def test_open_at_makes_one_ranged_get_and_yields_exactly_the_rest(s3_staging, s3_server, s3_proxy, offset):
    data = os.urandom(2 * 1024 * 1024)
    name = uuid.uuid4().hex
    put(s3_server, f"{s3_staging}/{name}", data)

    with staging.open_at(name, offset) as fh:
        got = bytearray()
        buffer = bytearray(300_000)
        while n := fh.readinto(buffer):
            got += buffer[:n]

    assert bytes(got) == data[offset:]
    log = s3_proxy.settled()
    assert [(e.method, e.key, e.range) for e in log] == [("GET", f"{s3_staging}/{name}", f"bytes={offset}-")]
    assert log[0].status == 206 and log[0].sent == len(data) - offset


def test_open_at_zero_is_one_plain_get(s3_staging, s3_server, s3_proxy):
    data = os.urandom(1024 * 1024)
    name = uuid.uuid4().hex
    put(s3_server, f"{s3_staging}/{name}", data)
    with staging.open_at(name) as fh:
        assert fh.read() == data
    assert [(e.method, e.range, e.sent) for e in s3_proxy.settled()] == [("GET", None, len(data))]


def test_open_at_the_end_reads_nothing(s3_staging, s3_server):
    name = uuid.uuid4().hex
    put(s3_server, f"{s3_staging}/{name}", b"12345")
    with staging.open_at(name, 5) as fh:
        assert fh.read() == b""


def test_a_missing_object_is_file_not_found_and_open_if_present_none(s3_staging):
    with pytest.raises(FileNotFoundError):
        staging.open_at(uuid.uuid4().hex, 10)
    assert staging.open_if_present(uuid.uuid4().hex) is None
    assert staging.open_if_present("") is None


def test_open_if_present_then_seek_reads_the_range_only(s3_staging, s3_server, s3_proxy):
    """What serving does for a Range request on a file still in staging."""
    data = os.urandom(3 * 1024 * 1024)
    name = uuid.uuid4().hex
    put(s3_server, f"{s3_staging}/{name}", data)
    fh = staging.open_if_present(name)
    assert fh is not None and fh.size == len(data)
    fh.seek(2 * 1024 * 1024)
    with fh:
        assert fh.read(1000) == data[2 * 1024 * 1024 : 2 * 1024 * 1024 + 1000]
    gets = [e for e in s3_proxy.settled() if e.method == "GET"]
    # The first GET is closed unread (what of it sits in socket buffers is not drained).
    assert [e.range for e in gets] == [None, f"bytes={2 * 1024 * 1024}-"]

    with staging.open_if_present(name, 100) as fh:
        assert fh.read(50) == data[100:150]


def test_a_connection_cut_mid_read_goes_on_with_a_ranged_get(s3_staging, s3_server, s3_proxy):
    data = os.urandom(2 * 1024 * 1024)
    name = uuid.uuid4().hex
    put(s3_server, f"{s3_staging}/{name}", data)
    s3_proxy.cut_next_get_after(500_000)
    with staging.open_at(name, 1000) as fh:
        assert fh.read() == data[1000:]
    gets = [e for e in s3_proxy.settled() if e.method == "GET"]
    assert [(e.range, e.complete) for e in gets] == [("bytes=1000-", False), ("bytes=501000-", True)]
    assert sum(e.sent for e in gets) == len(data) - 1000


def test_commit_exists_modified_since_and_remove(s3_staging, s3_server, tmp_path):
    data = png(50_000)
    path = tmp_path / "upload-x"
    path.write_bytes(data)
    received = staging.StagedFile(str(path), "a.png", "image/png", len(data), "", data[:100])
    before = timezone.now() - datetime.timedelta(seconds=5)

    name = staging.commit(received)

    assert not path.exists()
    assert keys(s3_server, s3_staging) == {f"{s3_staging}/{name}"}
    assert staging.exists(name) and not staging.exists(uuid.uuid4().hex)
    assert staging.modified_since(name, before)
    assert not staging.modified_since(name, timezone.now() + datetime.timedelta(minutes=5))
    with staging.open_at(name, 10) as fh:
        assert fh.read() == data[10:]
    with staging.open_at(name) as fh:  # to the end: boto3 checks the object's checksum there
        assert fh.read() == data
    staging.remove(name)
    assert keys(s3_server, s3_staging) == set()
    assert not staging.exists(name)


def test_remove_orphans_lists_the_prefix_and_takes_only_staged_names(s3_staging, s3_server):
    orphan, kept = uuid.uuid4().hex, uuid.uuid4().hex
    foreign = [f"{s3_staging}/notes.txt", f"{s3_staging}/sub/{uuid.uuid4().hex}", f"{uuid.uuid4().hex}"]
    for key in [f"{s3_staging}/{orphan}", f"{s3_staging}/{kept}", *foreign]:
        put(s3_server, key, b"x")

    # Nothing is old enough yet.
    assert staging.remove_orphans({kept}, older_than=datetime.timedelta(hours=1)) == 0
    assert staging.remove_orphans({kept}, older_than=datetime.timedelta(seconds=-5)) == 1

    assert keys(s3_server, s3_staging) == {f"{s3_staging}/{kept}", *foreign[:2]}
    assert s3_server.client().head_object(Bucket=s3_server.bucket, Key=foreign[2])
    s3_server.client().delete_object(Bucket=s3_server.bucket, Key=foreign[2])


# --- a resumed session reads from where the saved hash stops ------------------------


class Reads:
    """open_stream over `data`, recording each offset it is opened at and the bytes read;
    with fail_after, reading past that byte raises, as a worker killed there would."""

    def __init__(self, data, fail_after=None):
        self.data = data
        self.fail_after = fail_after
        self.opened = []
        self.read = 0

    def __call__(self, offset):
        self.opened.append(offset)
        reads = self
        stream = io.BytesIO(self.data)
        stream.seek(offset)

        class Stream:
            def readinto(self, buffer):
                if reads.fail_after is not None and stream.tell() >= reads.fail_after:
                    raise OSError("worker killed")
                limit = (
                    len(buffer)
                    if reads.fail_after is None
                    else min(len(buffer), reads.fail_after - stream.tell())
                )
                got = stream.readinto(memoryview(buffer)[:limit])
                reads.read += got
                return got

            def close(self):
                pass

        return Stream()


@pytest.fixture
def send(emulator):
    app = emulator.register_app()
    token = emulator.issue_access_token(app)

    class Tokens:
        def get(self):
            return token

        def refresh(self):
            return token

    def send(data, open_stream, **kwargs):
        return upload.upload_file(
            graph_base=emulator.base_url + "/v1.0",
            tokens=Tokens(),
            remote_path="imgbed/resumed.bin",
            open_stream=open_stream,
            size=len(data),
            fragment_size=2 * FRAGMENT,
            retry=upload.RetryPolicy(sleep=lambda s: None, jitter=False),
            **kwargs,
        )

    return send


def test_quickxorhash_state_round_trips():
    data = os.urandom(1_000_003)
    for cut in (0, 1, 159, 160, 161, 500_000, len(data)):
        first = QuickXorHash(data[:cut])
        resumed = QuickXorHash.from_state(first.state())
        assert resumed.length == cut
        resumed.update(data[cut:])
        assert resumed.b64digest() == quickxorhash_b64(data)
    for bad in ("", "not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError):
            QuickXorHash.from_state(bad)


def _first_attempt(send, data, fragments_taken):
    """An upload killed after `fragments_taken` fragments: (session URL, hash states saved)."""
    sessions, states = [], []
    with pytest.raises(OSError, match="worker killed"):
        send(
            data,
            Reads(data, fail_after=fragments_taken * 2 * FRAGMENT),
            on_session=sessions.append,
            on_progress=states.append,
        )
    assert len(states) == fragments_taken
    return sessions[-1], states


def test_a_resumed_session_reads_only_the_rest_from_the_saved_hash(emulator, send):
    data = os.urandom(5 * 1024 * 1024 + 12345)
    session_url, states = _first_attempt(send, data, 3)
    held = 3 * 2 * FRAGMENT
    assert QuickXorHash.from_state(states[-1]).length == held

    reads = Reads(data)
    result = send(data, reads, session_url=session_url, hash_state=states[-1])

    assert reads.opened == [held] and reads.read == len(data) - held
    assert result.quickxorhash == quickxorhash_b64(data) == emulator.files()[0].quickxorhash


def test_a_hash_saved_a_fragment_behind_reads_from_there(emulator, send):
    """Killed after OneDrive took a fragment but before its hash was saved."""
    data = os.urandom(5 * 1024 * 1024 + 12345)
    session_url, states = _first_attempt(send, data, 3)
    emulator.clear_log()

    reads = Reads(data)
    result = send(data, reads, session_url=session_url, hash_state=states[1])

    assert reads.opened == [2 * 2 * FRAGMENT] and reads.read == len(data) - 2 * 2 * FRAGMENT
    assert result.quickxorhash == quickxorhash_b64(data)
    assert fragments(emulator)[0][0] == 3 * 2 * FRAGMENT  # nothing is sent twice


@pytest.mark.parametrize("state", ["garbage", "ahead"])
def test_a_hash_state_that_does_not_fit_is_dropped(emulator, send, state):
    data = os.urandom(5 * 1024 * 1024 + 12345)
    session_url, states = _first_attempt(send, data, 2)
    hash_state = "garbage" if state == "garbage" else QuickXorHash(data[: 3 * 2 * FRAGMENT]).state()

    reads = Reads(data)
    result = send(data, reads, session_url=session_url, hash_state=hash_state)

    assert reads.opened == [0] and reads.read == len(data)
    assert result.quickxorhash == quickxorhash_b64(data)


# --- two hosts -----------------------------------------------------------


def local_client() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def procfile_web_line() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, sep, command = line.partition(":")
        if sep and kind.strip() == "web":
            return command.strip()
    raise AssertionError("no web line in the Procfile")


def host_dir(tmp_path, name) -> Path:
    """A data directory of its own. The filesystem broker is a folder in the data
    directory: that one is shared (it is the broker, as Redis would be)."""
    data_dir = tmp_path / name
    data_dir.mkdir()
    if django_settings.CELERY_BROKER_URL.startswith("filesystem://"):
        (data_dir / "broker").symlink_to(
            (django_settings.DATA_DIR / "broker").resolve(), target_is_directory=True
        )
    return data_dir


@pytest.fixture
def web_host(tmp_path, emulator, s3_proxy, s3_server, prefix):
    """The Procfile's web line with data directory A and S3 staging; its URL."""
    data_dir = host_dir(tmp_path, "host-a")
    port = free_port()
    env = clean_env(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="imgbed_site.settings",
        DEBUG="false",
        SECRET_KEY=django_settings.SECRET_KEY,
        IMGBED_ENCRYPTION_KEYS=",".join(django_settings.IMGBED_ENCRYPTION_KEYS),
        IMGBED_DATA_DIR=data_dir,
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=django_settings.CELERY_BROKER_URL,
        IMGBED_STAGING_BACKEND=S3_BACKEND,
        IMGBED_STAGING_OPTIONS=json.dumps(staging_options(s3_proxy, s3_server, prefix)),
        IMGBED_FRAGMENT_SIZE=FRAGMENT,
        ONEDRIVE_LOGIN_URL=emulator.base_url,
        ONEDRIVE_GRAPH_URL=emulator.base_url,
        REQUESTS_CA_BUNDLE=emulator.ca_pem_path,
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{port}",
        PORT=port,
        WEB_CONCURRENCY=1,
        PYTHONUNBUFFERED=1,
    )
    web = Spawned(["/bin/sh", "-c", "exec " + procfile_web_line()], env, ROOT, tmp_path / "web.log")
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return local_client().get(url + "/api/channels", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        web.wait_until(answers, timeout=60, what="gunicorn to answer")
        yield url, data_dir, web
    finally:
        web.stop()


def test_two_hosts_share_only_database_broker_and_bucket_and_a_resume_reads_only_the_rest(
    channel, onedrive_settings, emulator, s3_server, s3_proxy, prefix, web_host, start_worker, tmp_path
):
    from uploads.tasks import reconcile_uploads

    url, web_dir, web = web_host
    worker_dir = host_dir(tmp_path, "host-b")
    channel.health = Channel.Health.CONNECTED
    channel.save()
    code = UploadCode(label="s3 staging")
    code.set_code(CODE)
    code.save()
    worker_settings = {
        "IMGBED_DATA_DIR": worker_dir,
        "IMGBED_STAGING_BACKEND": S3_BACKEND,
        "IMGBED_STAGING_OPTIONS": json.dumps(staging_options(s3_proxy, s3_server, prefix)),
        "IMGBED_FRAGMENT_SIZE": FRAGMENT,
        "IMGBED_UPLOAD_LEASE": 2,
    }

    data = png(6 * 1024 * 1024 + 12345)  # 20 fragments of 320 KiB
    with local_client() as http_client:
        answer = http_client.post(
            f"{url}/upload?authCode={CODE}", files={"file": ("big.png", data, "image/png")}, timeout=60
        )
        assert answer.status_code == 200, web.output()
        src = answer.json()[0]["src"]
        row = StoredFile.objects.get()
        assert not row.receiving  # no early start: staging is not on this disk
        key = f"{prefix}/{row.staged_name}"
        assert keys(s3_server, prefix) == {key}

        # Served from the bucket while no worker has it, ranges included.
        assert http_client.get(url + src, timeout=30).content == data
        s3_proxy.clear()
        part = http_client.get(url + src, headers={"Range": "bytes=5000000-"}, timeout=30)
        assert part.status_code == 206 and part.content == data[5000000:]
        assert [e.range for e in s3_proxy.settled() if e.method == "GET"][-1] == "bytes=5000000-"

    # The first worker, on host B: slowed down so it can be stopped after a few fragments.
    emulator.faults.latency = 0.2
    s3_proxy.clear()
    first = start_worker(concurrency=1, **worker_settings)
    wait_for(lambda: len(fragments(emulator)) >= 3, what="three fragments")
    # Its next fragment is answered 503 with a Retry-After it sleeps through in place:
    # killed there, it dies between two fragments, with nothing in flight.
    hold = emulator.faults.inject("upload_url", path_regex="^/upload/", status=503, retry_after=30, count=1)
    wait_for(lambda: hold.fired, what="the first worker to be held")
    first.kill()
    emulator.faults.latency = 0

    row.refresh_from_db()
    assert row.status == StoredFile.Status.UPLOADING and row.upload_session_url
    (session,) = emulator.upload_sessions()
    resume_at = session.received
    assert 3 * FRAGMENT <= resume_at < len(data)
    # What the session holds, hashed: the next worker goes on from there.
    assert QuickXorHash.from_state(row.upload_session_hash).length == resume_at
    first_read = sum(e.sent for e in s3_proxy.settled() if e.method == "GET" and e.key == key)

    # The second worker, also on host B, resumes once the dead one's claim has lapsed.
    wait_for(
        lambda: StoredFile.objects.filter(pk=row.pk, claimed_until__lt=timezone.now()).exists(),
        what="the killed worker's claim to lapse",
    )
    s3_proxy.clear()
    emulator.clear_log()
    start_worker(concurrency=1, **worker_settings)
    reconcile_uploads.delay()  # beat's schedule, run now by the second worker
    wait_for(
        lambda: StoredFile.objects.filter(pk=row.pk, status=StoredFile.Status.STORED).exists(),
        timeout=120,
        what="the file to be stored",
    )

    row.refresh_from_db()
    assert row.quickxorhash == quickxorhash_b64(data)
    (stored,) = emulator.files()
    assert stored.quickxorhash == quickxorhash_b64(data) and stored.size == len(data)
    assert not [r for r in emulator.requests if r.path.endswith(":/createUploadSession")]  # resumed
    resumed = fragments(emulator)
    assert resumed[0][0] == resume_at
    assert_disjoint([(0, resume_at - 1), *resumed], len(data))

    gets = [e for e in s3_proxy.settled() if e.method == "GET" and e.key == key]
    read = sum(e.sent for e in gets)
    print(
        f"\nfile {len(data)} bytes; first worker read {first_read}; resumed at {resume_at}; "
        f"second worker's staging GETs {[(e.range, e.sent) for e in gets]}: {read} bytes "
        f"(remaining {len(data) - resume_at})"
    )
    assert [e.range for e in gets] == [f"bytes={resume_at}-"]
    assert read == len(data) - resume_at

    # The staged object goes once the file is stored; neither host kept a copy on disk.
    wait_for(lambda: keys(s3_server, prefix) == set(), what="the staged object to be removed")
    assert row.staged_name == ""
    on_disk = [p for d in (web_dir, worker_dir) for p in d.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not [p for p in on_disk if p.stat().st_size >= len(data) // 2], on_disk

    # From OneDrive now, through the web host.
    with local_client() as http_client:
        http_client.verify = emulator.ca_pem_path
        s3_proxy.clear()
        assert http_client.get(url + src, timeout=60).content == data
        assert not [e for e in s3_proxy.log if e.method == "GET"]
