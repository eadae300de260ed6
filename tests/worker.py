"""A real Celery worker in its own process, on the test database, the configured broker and the emulator."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class CeleryProcess:
    """`celery -A imgbed_site <args>` in its own process group, its output in a log file."""

    ready_marker = ""

    def __init__(self, args, env):
        self.log_path = Path(tempfile.mkstemp(prefix=f"celery-{args[0]}-", suffix=".log")[1])
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "imgbed_site", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_marker in self.log():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"celery exited:\n{self.log()}")
            time.sleep(0.2)
        raise RuntimeError(f"celery did not start in {timeout}s:\n{self.log()}")

    def kill(self):
        """As a crash would: SIGKILL to the whole process group, no chance to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class Worker(CeleryProcess):
    ready_marker = " ready."

    def __init__(self, env, concurrency=2):
        args = [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        super().__init__(args, env)


class Beat(CeleryProcess):
    ready_marker = "beat: Starting..."

    def __init__(self, env):
        schedule = Path(tempfile.mkdtemp(prefix="celery-beat-")) / "schedule"
        super().__init__(["beat", "--loglevel=INFO", f"--schedule={schedule}"], env)


def worker_env(emulator, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "imgbed_site.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "IMGBED_DATA_DIR": str(settings.DATA_DIR),
            "IMGBED_ENCRYPTION_KEYS": ",".join(settings.IMGBED_ENCRYPTION_KEYS),
            "SECRET_KEY": settings.SECRET_KEY,
            "ONEDRIVE_LOGIN_URL": emulator.base_url,
            "ONEDRIVE_GRAPH_URL": emulator.base_url,
            "REQUESTS_CA_BUNDLE": emulator.ca_pem_path,
            "IMGBED_FRAGMENT_SIZE": str(settings.IMGBED_FRAGMENT_SIZE),
            "IMGBED_STAGING_OPTIONS": json.dumps(settings.STORAGES["staging"]["OPTIONS"]),
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def celery_processes(graph_emulator, transactional_db):
    from imgbed_site.celery import app

    app.control.purge()  # leftovers of an earlier run must not reach this test's workers
    started = []
    yield started, graph_emulator
    for process in started:
        process.stop()


@pytest.fixture
def start_worker(celery_processes):
    """Start workers with `start_worker(concurrency=2, **env)`; all are stopped after the test."""
    started, emulator = celery_processes

    def start(concurrency=2, **extra):
        worker = Worker(worker_env(emulator, **extra), concurrency=concurrency)
        started.append(worker)
        return worker

    return start


@pytest.fixture
def start_beat(celery_processes):
    """Start a Celery beat with `start_beat(**env)` (e.g. IMGBED_QUOTA_INTERVAL=1)."""
    started, emulator = celery_processes

    def start(**extra):
        beat = Beat(worker_env(emulator, **extra))
        started.append(beat)
        return beat

    return start


def wait_for(predicate, timeout=60, interval=0.1, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
