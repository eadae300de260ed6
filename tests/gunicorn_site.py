"""The Procfile's web line as a real gunicorn, on its own SQLite database in a folder,
for tests that speak raw HTTP to it over a socket."""

import secrets
import socket
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.processes import Spawned, free_port
from tests.test_access_log import _PREPARE, ROOT, local_client, procfile_line, site_env


class Site:
    def __init__(self, data_dir: Path, port: int, upload_code: str, web: Spawned):
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.upload_code = upload_code
        self.web = web

    def connect(self, timeout: float = 120) -> socket.socket:
        """A raw connection; the timeout only stops a broken test hanging for ever."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def rows(self) -> int:
        with sqlite3.connect(self.data_dir / "db.sqlite3") as db:
            return db.execute("SELECT COUNT(*) FROM uploads_storedfile").fetchone()[0]

    def staged_files(self) -> list[Path]:
        root = self.data_dir / "staging"
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []

    def answers(self) -> bool:
        return local_client().get(self.url + "/api/channels", timeout=30).status_code == 200


@contextmanager
def procfile_site(tmp: Path, **extra_env):
    """The web process with `extra_env` over the usual test environment; a Site."""
    data_dir = tmp / "data"
    data_dir.mkdir()
    port = free_port()
    env = site_env(data_dir, port)
    env.update({k: str(v) for k, v in extra_env.items()})
    upload_code = "code-" + secrets.token_hex(12)
    prepared = subprocess.run(
        [sys.executable, "-c", _PREPARE, upload_code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    web = Spawned(["/bin/sh", "-c", "exec " + procfile_line("web")], env, ROOT, tmp / "web.log")
    try:
        site = Site(data_dir, port, upload_code, web)

        def up():
            try:
                return site.answers()
            except requests.ConnectionError:
                return False

        web.wait_until(up, timeout=60, what="gunicorn to answer")
        yield site
    finally:
        web.stop()


def read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    """(status, lower-case headers, body) of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:length]
