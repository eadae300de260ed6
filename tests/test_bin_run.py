"""bin/run as people use it: the address it prints, and how it stops.

It runs for real on its laptop defaults (SQLite, the filesystem broker) in a
temp IMGBED_DATA_DIR, with the worker (beat a thread of it) and runserver it starts.
"""

import os
import re
import signal
import sys
from pathlib import Path

import pytest
import requests

from tests.processes import Spawned, children, clean_env, cmdline, descendants, free_port, marked

ROOT = Path(__file__).resolve().parent.parent

# Starts bin/run with INT, TERM and HUP at their defaults, as a terminal does,
# even where this test runs with them ignored (a shell ignores SIGINT in its
# background jobs, and bash cannot trap a signal ignored on entry).
_AS_FROM_A_TERMINAL = (
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
    "    signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)

_URL = re.compile(r"https?://\S+")


def _answers(url: str) -> bool:
    session = requests.Session()
    session.trust_env = False
    try:
        return session.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def bin_run(tmp_path):
    port = free_port()
    env = clean_env(IMGBED_DATA_DIR=tmp_path / "data", PORT=port, PYTHONUNBUFFERED=1)
    run = Spawned(
        [sys.executable, "-c", _AS_FROM_A_TERMINAL, str(ROOT / "bin" / "run")],
        env,
        ROOT,
        tmp_path / "run.log",
    )
    try:
        yield run, port
    finally:
        run.stop()


def _worker(run: Spawned) -> int | None:
    return next((pid for pid in children(run.pid) if "imgbed_site.worker" in cmdline(pid)), None)


@pytest.mark.parametrize(
    ("name", "to_group"),
    [
        ("SIGINT", True),  # Ctrl-C: the terminal signals the whole foreground process group
        ("SIGTERM", False),  # kill, systemd, a process manager: bin/run alone
        ("SIGHUP", True),  # the terminal closed
    ],
)
def test_signal_stops_all_it_started(bin_run, name, to_group):
    run, port = bin_run
    site_url = f"http://localhost:{port}"
    # Migrating a fresh database and starting Django and Celery takes a while on a busy machine.
    run.wait_until(lambda: f"imgbed is running at {site_url}/" in run.output(), 180, "bin/run's banner")
    run.wait_until(lambda: _answers(f"{site_url}/"), 30, "the site to answer")
    run.wait_until(lambda: " ready." in run.output(), 60, "the Celery worker to be ready")
    worker = run.wait_until(lambda: _worker(run), 10, "the worker process")
    # Beat runs as a thread of the worker, its pool's threads beside it: one process for both.
    run.wait_until(lambda: "beat: Starting..." in run.output(), 30, "beat in the worker")
    assert children(worker) == []
    started = {pid: cmdline(pid) for pid in descendants(run.pid)}
    assert sum("runserver" in command for command in started.values()) >= 2  # the reloader and the server
    assert set(started) <= set(marked(run.mark))  # what is looked for afterwards finds them

    signum = getattr(signal, name)
    if to_group:
        os.killpg(run.pid, signum)
    else:
        os.kill(run.pid, signum)
    # Celery's warm shutdown takes several seconds.
    returncode = run.popen.wait(timeout=120)

    left = marked(run.mark)
    assert left == {}, f"left running after bin/run returned: {left}\n{run.output()[-4000:]}"
    assert returncode == 128 + signum

    # One address is printed, SITE_URL's, and last: not runserver's bound 127.0.0.1.
    output = run.output()
    urls = _URL.findall(output)
    assert urls and urls[-1].startswith(site_url + "/"), output
    assert not [url for url in urls if not url.startswith(site_url)], output
    assert f"127.0.0.1:{port}" not in output, output
