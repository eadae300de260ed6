"""What every benchmark sets up: a temporary data folder, a database and a
broker, the Graph emulator in its own process, the channel row, gunicorn and
Celery workers, and the clean-up of all of it.

The database and broker are SQLite and kombu's filesystem transport under a
fresh temporary IMGBED_DATA_DIR, unless DATABASE_URL / CELERY_BROKER_URL are
set: then those servers are used. A PostgreSQL database is created for the
run and dropped after it; its name must contain "bench" (another name is
replaced by bench_imgbed, so a real database is never dropped). The Celery
queue of such a broker (e.g. redis://127.0.0.1:6379/14) is purged at the
start and at the end.

The emulator runs in its own process (bench/_emulator.py) with TCP_NODELAY
on its connections; add_common_arguments() gives every script --keep (keep
the temp dir with the processes' logs) and --stock-emulator.

Stack.s3_server() and Stack.webdav_server() start the loopback S3 (moto) and
WebDAV (WsgiDAV) servers the tests use, as their fixtures do, for
bench/kinds.py; close() stops them with the rest.

The measuring process itself also runs Django on the same settings, to
create the channel row and to watch the rows' status.
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
GiB = 1024 * MiB
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- files ------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


_IHDR = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
_TAIL = _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff")) + _png_chunk(b"IEND", b"")
_PNG_OVERHEAD = len(PNG_SIGNATURE) + len(_IHDR) + 12 + len(_TAIL)


def png_bytes(size: int) -> bytes:
    """A valid 1x1 PNG of exactly `size` bytes: random bytes in an ancillary chunk."""
    payload = os.urandom(max(0, size - _PNG_OVERHEAD))
    return PNG_SIGNATURE + _IHDR + _png_chunk(b"tEXt", payload) + _TAIL


def write_png(path: Path, size: int) -> Path:
    """Like png_bytes, written to `path` piece by piece (1 GiB never sits in memory)."""
    payload = max(0, size - _PNG_OVERHEAD)
    crc = zlib.crc32(b"tEXt")
    with open(path, "wb") as out:
        out.write(PNG_SIGNATURE + _IHDR + struct.pack(">I", payload) + b"tEXt")
        left = payload
        while left:
            piece = os.urandom(min(left, 8 * MiB))
            crc = zlib.crc32(piece, crc)
            out.write(piece)
            left -= len(piece)
        out.write(struct.pack(">I", crc & 0xFFFFFFFF) + _TAIL)
    return path


def paced(pieces, rate: float | None, step: int = 256 * 1024):
    """`pieces` (an iterable of bytes) cut to `step` bytes and held to `rate` bytes per second: a slow link."""
    if not rate:
        yield from pieces
        return
    started, sent = time.monotonic(), 0
    for piece in pieces:
        for start in range(0, len(piece), step):
            part = piece[start : start + step]
            yield part
            sent += len(part)
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)


class Body:
    """Bytes sent through paced(), with their length (so requests sends Content-Length)."""

    def __init__(self, data: bytes, rate: float | None):
        self.data = data
        self.rate = rate

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self):
        return paced([self.data], self.rate)


class MultipartFile:
    """A multipart/form-data body streamed from a file, with its exact length
    (requests then sends Content-Length, not chunked coding, as browsers do);
    `rate` (bytes per second) paces it like a client on a slow link."""

    def __init__(
        self, path: Path, field: str = "file", content_type: str = "image/png", chunk=MiB, rate=None
    ):
        self.path = Path(path)
        self.chunk = chunk
        self.rate = rate
        boundary = "imgbedbench" + uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{self.path.name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = self.path.stat().st_size

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self):
        return paced(self._pieces(), self.rate)

    def _pieces(self):
        yield self.head
        with open(self.path, "rb") as fh:
            while piece := fh.read(self.chunk):
                yield piece
        yield self.tail


# --- processes and memory ----------------------------------------------------


def client() -> requests.Session:
    """A session for talking to the local processes: no proxy or CA settings from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict:
    """VmRSS, VmHWM, ... of a process, in bytes ({} when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                parts = value.split()
                if key.startswith("Vm") and len(parts) == 2 and parts[1] == "kB":
                    out[key] = int(parts[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return out


def children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += [int(c) for c in fh.read().split()]
        except FileNotFoundError:
            pass
    return found


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU time of a process (and its live descendants), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *(descendants(pid) if tree else [])]:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


class _Sampler:
    """Calls sample() every `interval` seconds in a thread, from `with` until its end."""

    def __init__(self, roots: dict[str, int], interval: float):
        self.roots = roots
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self):
        raise NotImplementedError

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class RssSampler(_Sampler):
    """Samples the RSS of process trees every `interval` seconds in a thread.

    peaks[label] is the highest sampled sum of VmRSS over the tree (the root
    and all its descendants at that moment); per_pid[pid] the highest VmRSS of
    each process seen. VmHWM read at the end is exact per process; the sampled
    sum is what the tree as a whole held at once (shared pages counted in each).
    """

    def __init__(self, roots: dict[str, int], interval: float = 0.05):
        super().__init__(roots, interval)
        self.peaks = dict.fromkeys(roots, 0)
        self.per_pid: dict[int, int] = {}

    def sample(self):
        for label, root in self.roots.items():
            total = 0
            for pid in [root, *descendants(root)]:
                rss = proc_status(pid).get("VmRSS", 0)
                self.per_pid[pid] = max(self.per_pid.get(pid, 0), rss)
                total += rss
            self.peaks[label] = max(self.peaks[label], total)


def pss(pid: int) -> int:
    """Proportional set size (/proc/<pid>/smaps_rollup) in bytes: its private pages and its share
    of those it shares (a forked child's copy of its parent's code counts once between them),
    so summed over processes it is what they hold together. 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def pss_by_process(roots: dict[str, int]) -> dict[str, int]:
    """PSS of each process of the trees under `roots` (name -> pid): "name" for the root,
    "name child 1", ... for its descendants, in pid order."""
    out = {}
    for name, root in roots.items():
        out[name] = pss(root)
        for number, pid in enumerate(sorted(descendants(root)), 1):
            out[f"{name} child {number}"] = pss(pid)
    return out


class PssSampler(_Sampler):
    """Samples the PSS of process trees every `interval` seconds in a thread: `peak` is the
    highest sampled sum over all of them at once, `peak_by_process` the highest of each process
    (labels as pss_by_process gives them), `samples` how many were taken."""

    def __init__(self, roots: dict[str, int], interval: float = 0.2):
        super().__init__(roots, interval)
        self.peak = 0
        self.peak_by_process: dict[str, int] = {}
        self.samples = 0

    def sample(self):
        sample = pss_by_process(self.roots)
        self.samples += 1
        self.peak = max(self.peak, sum(sample.values()))
        for name, value in sample.items():
            self.peak_by_process[name] = max(self.peak_by_process.get(name, 0), value)


def _die_with_parent():
    """In the child before exec: SIGTERM when the benchmark dies, however it dies (Linux prctl)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path, cwd: Path = ROOT):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        serial = 1
        while self.log_path.exists():  # a later process of the same name must not see an earlier one's log
            serial += 1
            self.log_path = log_dir / f"{name}-{serial}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # no threads of this process run while processes start
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for_log(self, marker: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.log():
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not log {marker!r} in {timeout}s:\n{self.tail()}")

    def wait_for_match(self, pattern: str, timeout: float = 60) -> re.Match:
        """Wait for a line of the log that matches `pattern` (a regular expression, multiline); the match."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := regex.search(self.log()):
                return found
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} logged no line like {pattern!r} in {timeout}s:\n{self.tail()}")

    def stop(self, timeout: float = 20):
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
            except ProcessLookupError:
                pass
        self._log.close()


class Web(Process):
    """gunicorn serving `app`; its master's pid is `pid`, the serving processes are worker_pids()."""

    def __init__(
        self,
        name,
        env,
        log_dir,
        *,
        app="imgbed_site.wsgi",
        workers=1,
        worker_class="sync",
        threads=1,
        timeout=None,
        pythonpath=None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}",
            f"--worker-class={worker_class}",
            f"--threads={threads}",
            "--access-logfile=-",
        ]
        if timeout is not None:
            args.append(f"--timeout={timeout}")
        if pythonpath:
            args.append(f"--pythonpath={pythonpath}")
        super().__init__(name, args, env, log_dir)
        self.workers = workers

    def wait_ready(self, path="/", timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            try:
                with client() as http:
                    http.get(self.url + path, timeout=2)
            except (
                requests.ConnectionError,
                requests.Timeout,
            ):  # a loaded machine's first answer can be slow
                time.sleep(0.1)
                continue
            if len(self.worker_pids()) >= self.workers:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer in {timeout}s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        return children(self.pid)


class Worker(Process):
    """A Celery worker; prefork unless `pool` says otherwise (the scripts measure a pool child:
    the site's default pool is threads, bench/load.py runs it as the Procfile does)."""

    def __init__(self, name, env, log_dir, *, concurrency=1, app="imgbed_site", pool="prefork"):
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--hostname={name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        # The site's settings name the pool (CELERY_WORKER_POOL, threads by default), and Celery
        # takes them over a --pool that says prefork, its own default: the variable says it.
        super().__init__(name, args, {**env, "CELERY_WORKER_POOL": pool}, log_dir)
        self.concurrency = concurrency

    def wait_ready(self, timeout=60):
        self.wait_for_log(" ready.", timeout)
        deadline = time.monotonic() + 10
        while len(self.pool_pids()) < self.concurrency and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def pool_pids(self) -> list[int]:
        return children(self.pid)


# --- the stack ---------------------------------------------------------------


class Stack:
    """Everything one benchmark needs, removed again by close() (or `with`)."""

    def __init__(self, name: str, *, keep: bool = False, stock_emulator: bool = False):
        self.name = name
        self.keep = keep
        self.stock_emulator = stock_emulator
        self._pg_admin = None  # (admin url, database name) when a PostgreSQL database is used
        self.database_url = self._database_url()
        self.broker_url = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"imgbed-bench-{name}-"))
        self.data_dir = self.tmp / "data"
        self.log_dir = self.tmp / "logs"
        self.files_dir = self.tmp / "files"
        for folder in (self.data_dir, self.log_dir, self.files_dir, self.tmp / "emulator"):
            folder.mkdir()
        self.database_url = self.database_url or f"sqlite:///{self.data_dir / 'db.sqlite3'}"
        self.processes: list[Process] = []
        self.emulator: dict = {}
        self._emulator_proc: subprocess.Popen | None = None
        self._django_ready = False
        self._secret_key = uuid.uuid4().hex * 2
        self._fernet_key = ""
        self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, *_):
        raise SystemExit(143)

    # -- set-up

    def _database_url(self) -> str:
        url = os.environ.get("DATABASE_URL", "")
        if not url or url.startswith("sqlite"):
            return ""  # a file in the temp dir, once there is one
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise SystemExit(
                f"DATABASE_URL: only PostgreSQL (or SQLite) is set up by the benchmarks, not {url}"
            )
        name = parts.path.lstrip("/")
        if "bench" not in name:
            name = "bench_imgbed"
        self._pg_admin = (urlunsplit(parts._replace(path="/postgres", query="")), name)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def _pg(self, *statements):
        import psycopg

        admin, _ = self._pg_admin
        with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)

    def describe(self) -> str:
        db = "SQLite (WAL) in a temp dir" if self.database_url.startswith("sqlite") else self.database_url
        broker = "kombu filesystem transport" if self.broker_url.startswith("filesystem") else self.broker_url
        emulator = "as shipped (Nagle on)" if self.stock_emulator else "TCP_NODELAY"
        return f"database: {db}; broker: {broker}; emulator: {emulator}"

    def env(self, **extra) -> dict:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "imgbed_site.settings",
                "DEBUG": "false",
                "SECRET_KEY": self._secret_key,
                "IMGBED_ENCRYPTION_KEYS": self._fernet_key,
                "IMGBED_DATA_DIR": str(self.data_dir),
                "DATABASE_URL": self.database_url,
                "CELERY_BROKER_URL": self.broker_url,
                "IMGBED_PUBLIC_UPLOADS": "true",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.emulator:
            env.update(
                {
                    "ONEDRIVE_LOGIN_URL": self.emulator["base_url"],
                    "ONEDRIVE_GRAPH_URL": self.emulator["base_url"],
                    "REQUESTS_CA_BUNDLE": self.emulator["ca"],
                }
            )
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def start(self, **django_env):
        """Emulator, database, migrations and the channel row; Django set up in this process."""
        from cryptography.fernet import Fernet

        self._fernet_key = Fernet.generate_key().decode()
        self._start_emulator()
        if self._pg_admin:
            _, name = self._pg_admin
            self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        os.environ.update(self.env(**django_env))
        import django

        django.setup()
        self._django_ready = True
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        if not self.broker_url.startswith("filesystem"):
            from imgbed_site.celery import app

            app.control.purge()
        self.channel = self._create_channel()
        return self

    def _start_emulator(self):
        log = open(self.log_dir / "emulator.log", "ab")  # noqa: SIM115
        self._emulator_log = log
        self._emulator_proc = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "_emulator.py"),
                "--storage-dir",
                str(self.tmp / "emulator"),
                *(["--stock"] if self.stock_emulator else []),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            text=True,
        )
        line = self._emulator_proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator did not start:\n" + (self.log_dir / "emulator.log").read_text())
        self.emulator = json.loads(line)

    def _create_channel(self):
        from channels.models import Channel
        from channels.onedrive.models import OneDriveChannel, OneDriveSettings

        # Quota figures as pull_quotas leaves them, so choosing a channel does what it does in production.
        channel = OneDriveChannel.objects.create(
            name="Bench OneDrive",
            health=Channel.Health.CONNECTED,
            quota_total=1024 * GiB,
            quota_used=0,
            quota_remaining=1024 * GiB,
            quota_state="normal",
        )
        OneDriveSettings.objects.create(
            channel=channel,
            client_id=self.emulator["client_id"],
            client_secret=self.emulator["client_secret"],
            tenant_id="consumers",
            refresh_token=self.emulator["refresh_token"],
        )
        return channel

    def web(self, name="web", **kwargs) -> Web:
        web = Web(name, self.env(), self.log_dir, **kwargs)
        self.processes.append(web)
        return web.wait_ready("/api/channels")

    def worker(self, name="worker", concurrency=1, polling_interval=None, **env) -> Worker:
        """A Celery worker; `polling_interval` overrides the filesystem transport's (1 s in kombu)."""
        app = "imgbed_site"
        if polling_interval is not None:
            app = "bench._celery_app"
            env["BENCH_BROKER_TRANSPORT_OPTIONS"] = json.dumps({"polling_interval": polling_interval})
        worker = Worker(name, self.env(**env), self.log_dir, concurrency=concurrency, app=app)
        self.processes.append(worker)
        return worker.wait_ready()

    @property
    def emulator_pid(self) -> int:
        return self._emulator_proc.pid

    def stop(self, process: Process):
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    # -- the loopback servers of the other channel kinds, started as the test fixtures start them

    def s3_server(self):
        """moto in server mode (`python -m tests.s3server`) holding the tests' private bucket;
        (a tests.s3server.S3Server, its Process). Stopped by close() like the site's processes."""
        from tests.s3server import S3Server

        process = Process(
            "s3server", [sys.executable, "-m", "tests.s3server"], dict(os.environ), self.log_dir
        )
        self.processes.append(process)
        port = int(process.wait_for_match(r"^port (\d+)$", timeout=30).group(1))
        server = S3Server(url=f"http://127.0.0.1:{port}")
        server.client().create_bucket(Bucket=server.bucket)
        return server, process

    def webdav_server(self):
        """WsgiDAV on cheroot (`python -m tests.webdavserver ROOT`) publishing a folder in the
        temp dir; (a tests.webdavserver.DAVServer, its Process). Stopped by close()."""
        from tests.webdavserver import PASSWORD, USER, _wait_until_it_answers

        root = self.tmp / "webdav"
        for share in ("files", "quota"):
            (root / share).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DAV_USER": USER, "DAV_PASSWORD": PASSWORD}
        process = Process(
            "webdavserver", [sys.executable, "-m", "tests.webdavserver", str(root)], env, self.log_dir
        )
        self.processes.append(process)
        return _wait_until_it_answers(root, process.log_path, process.popen), process

    # -- looking at rows

    def newest_file_pk(self) -> int:
        from uploads.models import StoredFile

        return StoredFile.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def wait_stored(self, public_ids, timeout=600, interval=0.02, on_status=None):
        """Poll until every row of `public_ids` is stored; returns {public_id: monotonic time seen stored}."""
        from django.db import connection

        from uploads.models import StoredFile

        left = set(public_ids)
        seen = {}
        deadline = time.monotonic() + timeout
        while left:
            rows = StoredFile.objects.filter(public_id__in=list(left)).values_list(
                "public_id", "status", "failure_reason"
            )
            now = time.monotonic()
            for public_id, status, reason in rows:
                if on_status:
                    on_status(public_id, status, now)
                if status == StoredFile.Status.STORED:
                    seen[public_id] = now
                    left.discard(public_id)
                elif status == StoredFile.Status.FAILED:
                    raise RuntimeError(f"{public_id} failed: {reason}")
            if not left:
                break
            if now > deadline:
                raise RuntimeError(f"{len(left)} uploads not stored after {timeout}s")
            connection.close_if_unusable_or_obsolete()
            time.sleep(interval)
        return seen

    # -- clean-up

    def close(self):
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception as exc:  # keep cleaning up
                print(f"stopping {process.name}: {exc}", file=sys.stderr)
        self.processes.clear()
        if self._emulator_proc is not None and self._emulator_proc.poll() is None:
            os.killpg(self._emulator_proc.pid, signal.SIGTERM)
            try:
                self._emulator_proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self._emulator_proc.pid, signal.SIGKILL)
                self._emulator_proc.wait(10)
        if self._django_ready:
            from django.db import connections

            if not self.broker_url.startswith("filesystem"):
                try:  # tasks no worker took (acknowledged.py runs none) must not linger in the broker
                    from imgbed_site.celery import app

                    app.control.purge()
                except Exception as exc:
                    print(f"purging the broker: {exc}", file=sys.stderr)
            connections.close_all()
        if self._pg_admin:
            _, name = self._pg_admin
            try:
                self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:
                print(f"dropping database {name}: {exc}", file=sys.stderr)
        if self.keep:
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, self._previous_sigterm)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc is not None and not isinstance(exc, KeyboardInterrupt | UploadRefused | BrokenPipeError):
                for process in self.processes:
                    print(f"--- last lines of {process.name} ({process.log_path}) ---", file=sys.stderr)
                    print(process.tail(), file=sys.stderr)
        except OSError:
            pass  # stderr closed: clean up all the same
        finally:
            self.close()


def add_common_arguments(parser):
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database, files)")
    parser.add_argument(
        "--stock-emulator",
        action="store_true",
        help="run the emulator as shipped, with its ~40 ms Nagle/delayed-ACK stall per answer",
    )


def stack_from(args, name: str) -> Stack:
    return Stack(name, keep=args.keep, stock_emulator=args.stock_emulator)


# --- clients and figures -----------------------------------------------------


class UploadRefused(RuntimeError):
    pass


def post_file(url: str, path: Path, timeout=3600, rate=None) -> tuple[str, float]:
    """POST /upload streaming `path` (at `rate` bytes per second, if given); (public id, seconds)."""
    body = MultipartFile(path, rate=rate)
    started = time.monotonic()
    with client() as http:
        response = http.post(
            url + "/upload", data=body, headers={"Content-Type": body.content_type}, timeout=timeout
        )
    elapsed = time.monotonic() - started
    if response.status_code != 200:
        raise UploadRefused(
            f"POST /upload answered {response.status_code} after {elapsed:.1f} s: "
            + " ".join(response.text.split())[:200]
        )
    return response.json()[0]["src"].removeprefix("/file/"), elapsed


def post_bytes(session: requests.Session, url: str, name: str, data: bytes, timeout=60) -> requests.Response:
    return session.post(url + "/upload", files={"file": (name, data, "image/png")}, timeout=timeout)


def direct_upload(emulator: dict, path: Path, remote_path: str, fragment_size: int, rate=None) -> float:
    """What a plain client does: createUploadSession, then fragments with requests; seconds taken.
    `rate` (bytes per second) paces the fragments like a client on a slow link."""
    base = emulator["base_url"]
    size = path.stat().st_size
    started = time.monotonic()
    with client() as http, open(path, "rb") as fh:
        http.verify = emulator["ca"]
        created = http.post(
            f"{base}/v1.0/me/drive/root:/{remote_path}:/createUploadSession",
            json={"item": {"@microsoft.graph.conflictBehavior": "fail"}},
            headers={"Authorization": f"Bearer {emulator['access_token']}"},
            timeout=60,
        )
        created.raise_for_status()
        upload_url = created.json()["uploadUrl"]
        offset = 0
        while offset < size:
            data = fh.read(fragment_size)
            last = offset + len(data) - 1
            response = http.put(
                upload_url,
                data=Body(data, rate) if rate else data,
                headers={"Content-Range": f"bytes {offset}-{last}/{size}"},
                timeout=600,
            )
            if response.status_code not in (200, 201, 202):
                raise RuntimeError(f"fragment at {offset}: {response.status_code} {response.text[:300]}")
            offset = last + 1
        if response.status_code not in (200, 201) or response.json().get("size") != size:
            raise RuntimeError(f"direct upload did not complete: {response.status_code}")
    return time.monotonic() - started


def run_load(url: str, payloads: list[bytes], clients: int, name="bench.png") -> dict:
    """POST every payload from `clients` threads; latencies and the rate from the first start to the last end."""
    lock = threading.Lock()
    queue = list(enumerate(payloads))
    results = []
    errors = []

    def post_all():
        with client() as session:
            while True:
                with lock:
                    if not queue:
                        return
                    index, data = queue.pop()
                started = time.monotonic()
                try:
                    response = post_bytes(session, url, f"{index}-{name}", data)
                    ok = response.status_code == 200
                    body = response.json() if ok else f"{response.status_code} {response.text[:300]}"
                except requests.RequestException as exc:
                    ok, body = False, repr(exc)
                ended = time.monotonic()
                with lock:
                    if ok:
                        results.append((started, ended, body[0]["src"].removeprefix("/file/")))
                    else:
                        errors.append(body)

    threads = [threading.Thread(target=post_all) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} uploads failed, e.g. {errors[0]}")
    first = min(r[0] for r in results)
    last = max(r[1] for r in results)
    latencies = sorted(r[1] - r[0] for r in results)
    return {
        "count": len(results),
        "first": first,
        "last": last,
        "seconds": last - first,
        "rate": len(results) / (last - first),
        "latencies": latencies,
        "ids": [r[2] for r in results],
    }


def run_gets(
    url: str, paths: list[str], clients: int, *, expect=(200,), allow_redirects=False, check=None
) -> dict:
    """GET every path from `clients` threads (one session each), reading every body; redirects are
    not followed unless asked. A status not in `expect`, or `check(path, response)` returning
    words, is an error. Latencies and the rate from the first start to the last end."""
    lock = threading.Lock()
    queue = list(reversed(paths))
    results = []
    errors = []
    stop = threading.Event()

    def get_all():
        with client() as session:
            while not stop.is_set():
                with lock:
                    if not queue:
                        return
                    path = queue.pop()
                started = time.monotonic()
                try:
                    response = session.get(url + path, allow_redirects=allow_redirects, timeout=60)
                    size = len(response.content)
                    problem = None
                    if response.status_code not in expect:
                        problem = f"{path}: {response.status_code} {response.text[:200]}"
                    elif check is not None:
                        problem = check(path, response)
                except requests.RequestException as exc:
                    size, problem = 0, f"{path}: {exc!r}"
                ended = time.monotonic()
                with lock:
                    if problem:
                        errors.append(problem)
                    else:
                        results.append((started, ended, size))

    threads = [threading.Thread(target=get_all, daemon=True) for _ in range(clients)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(paths)} GETs failed, e.g. {errors[0]}")
    first = min(r[0] for r in results)
    last = max(r[1] for r in results)
    return {
        "count": len(results),
        "seconds": last - first,
        "rate": len(results) / (last - first),
        "latencies": sorted(r[1] - r[0] for r in results),
        "bytes": sum(r[2] for r in results),
    }


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def median(values) -> float:
    return statistics.median(values)


def mb(n: float) -> float:
    return n / 1e6


def mib(n: float) -> float:
    return n / MiB


def parse_sizes(text: str) -> list[int]:
    """ "64,256,1G" -> bytes; plain numbers are MiB."""
    sizes = []
    for part in text.split(","):
        part = part.strip().upper()
        if part.endswith("G"):
            sizes.append(int(float(part[:-1]) * GiB))
        else:
            sizes.append(int(float(part.rstrip("M")) * MiB))
    return sizes


def human(n: int) -> str:
    return f"{n // GiB} GiB" if n >= GiB and n % GiB == 0 else f"{n / MiB:g} MiB"
