"""Servers the tests start as real processes: free ports, process trees, and what is left of them.

Every process started through `spawn` carries a marker in its environment,
inherited by all its descendants, so the ones still running afterwards can be
found even when their parent has gone and they were handed to init.
"""

import os
import re
import signal
import socket
import subprocess
import time
import uuid

MARKER = "IMGBED_TEST_PROCESS"

# The site's settings: a process the tests start gets its own, none of the suite's.
_SITE_VARIABLES = re.compile(
    r"^(IMGBED_|CELERY_|ONEDRIVE_|DATABASE_URL|CACHE_URL|SITE_URL|DEBUG|SECRET_KEY|ALLOWED_HOSTS|"
    r"CSRF_TRUSTED_ORIGINS|DJANGO_SETTINGS_MODULE|DJANGO_ALLOW_ASYNC_UNSAFE|PORT$|WEB_CONCURRENCY|WEB_THREADS)"
)


def clean_env(**extra) -> dict:
    """This process's environment without the site's settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not _SITE_VARIABLES.match(k)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def marked(mark: str) -> dict[int, str]:
    """Live processes (zombies excluded: their environment reads empty) carrying `mark`: pid -> command line."""
    needle = f"{MARKER}={mark}".encode() + b"\0"
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ:
            found[int(entry)] = cmdline(int(entry))
    return found


def kill_marked(mark: str, timeout: float = 10) -> None:
    """SIGKILL whatever still carries `mark`, and wait until it is gone."""
    deadline = time.monotonic() + timeout
    while (left := marked(mark)) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


class Spawned:
    """A command in its own session, its output (stdout and stderr) in `log_path`."""

    def __init__(self, args, env, cwd, log_path):
        self.mark = uuid.uuid4().hex
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env={**env, MARKER: self.mark},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, predicate, timeout: float, what: str):
        """Poll `predicate` until it is true; fail with the output when the process ends or time is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if not self.alive():
                raise AssertionError(f"{self.popen.args} exited ({self.popen.returncode}):\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"Timed out after {timeout}s waiting for {what}:\n{self.output()}")

    def stop(self) -> None:
        """However the test went: its process group, then anything else it started."""
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)
        kill_marked(self.mark)
        self._log.close()
