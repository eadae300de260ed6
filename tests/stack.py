"""The site's processes as a deployment runs them, for fault tests: a Redis of the test's own
(so it can be killed, restarted and flushed without touching anyone else's), the Procfile's
web line, and workers and beat (tests.worker) on that broker and the test database."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
import requests

from tests.processes import Spawned, free_port
from tests.test_access_log import procfile_line
from tests.worker import ROOT


class PrivateRedis:
    """redis-server on a free loopback port, keeping nothing on disk (as the machine's own)."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def start(self):
        args = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        """As a crash: SIGKILL; whatever it held (queued messages) is lost."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self):
        self.kill()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


class Web(Spawned):
    """The Procfile's web line (gunicorn) with `env`, answering on its own port."""

    def __init__(self, env, log_path):
        self.port = free_port()
        env = {**env, "PORT": str(self.port), "ALLOWED_HOSTS": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
        env.setdefault("SITE_URL", f"http://127.0.0.1:{self.port}")
        super().__init__(["/bin/sh", "-c", "exec " + procfile_line("web")], env, ROOT, log_path)
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.http.trust_env = False

        def answers():
            try:
                return self.http.get(self.url + "/api/channels", timeout=10).status_code == 200
            except requests.RequestException:  # not listening yet, or still loading
                return False

        self.wait_until(answers, timeout=60, what="gunicorn to answer")


@pytest.fixture
def start_web(tmp_path):
    started = []

    def start(env):
        web = Web(env, tmp_path / f"web-{len(started)}.log")
        started.append(web)
        return web

    yield start
    for web in started:
        web.stop()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, run as the postgres
    user, on a free loopback port), so it can be restarted mid-upload without touching the
    machine's own."""

    def __init__(self, directory: Path):
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
        self.port = free_port()
        self.directory = directory / "pg"
        self.directory.mkdir()
        shutil.chown(self.directory, "postgres")
        self._as_postgres(self.bin / "initdb", "-D", self.directory / "data", "-A", "trust", "-U", "postgres")
        self.start()
        self._as_postgres(self.bin / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "site")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/site"

    def _as_postgres(self, *args, check=True):
        command = ["runuser", "-u", "postgres", "--", *map(str, args)]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory}"
        self._as_postgres(
            self.bin / "pg_ctl",
            "-D",
            self.directory / "data",
            "-o",
            options,
            "-l",
            self.directory / "log",
            "-w",
            "start",
        )

    def stop(self, mode="fast"):
        self._as_postgres(
            self.bin / "pg_ctl", "-D", self.directory / "data", "-m", mode, "-w", "stop", check=False
        )


def can_run_postgres() -> str:
    """Why a private cluster cannot be made here, or ""."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "PostgreSQL's server programs (initdb) are not installed"
    if (
        not shutil.which("runuser")
        or subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0"
    ):
        return "making a PostgreSQL cluster needs root (to run it as the postgres user)"
    return ""


@pytest.fixture
def private_postgres(tmp_path):
    why = can_run_postgres()
    if why:
        pytest.skip(why)
    # Not under tmp_path: pytest's folders are root's alone, and the server runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="imgbed-pg-"))
    directory.chmod(0o755)
    cluster = PrivatePostgres(directory)
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
