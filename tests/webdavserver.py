"""A real WebDAV server (WsgiDAV on cheroot) on loopback, in its own process, for the session.

It publishes two folders with basic auth. WsgiDAV's folders report RFC 4331 quota (the
disk's figures); the tests want figures they can predict, so /files reports none, as some
servers do, and /quota reports fixed ones, as Nextcloud does.

Run by the fixture as `python -m tests.webdavserver ROOT`; the user name and password come
from the environment, and the port it listens on is printed once it listens.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
USER = "dav-user"
PASSWORD = "dav-pässword-5up3r"
QUOTA_USED = 123_456
QUOTA_AVAILABLE = 7 * 1024**3


@dataclass
class DAVServer:
    url: str  # the server's address, without a share
    root: Path  # the folder its shares publish: /files is root/files, /quota is root/quota
    user: str = USER
    password: str = PASSWORD
    QUOTA_USED = QUOTA_USED
    QUOTA_AVAILABLE = QUOTA_AVAILABLE

    @property
    def files_url(self) -> str:
        return f"{self.url}/files"

    @property
    def quota_url(self) -> str:
        return f"{self.url}/quota"


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("webdav")
    (root / "files").mkdir()
    (root / "quota").mkdir()
    log_path = root / "server.log"
    env = {**os.environ, "DAV_USER": USER, "DAV_PASSWORD": PASSWORD}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.webdavserver", str(root)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield _wait_until_it_answers(root, log_path, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_until_it_answers(root, log_path, process, timeout=20) -> DAVServer:
    deadline = time.monotonic() + timeout
    server = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the WebDAV server exited:\n{log_path.read_text()}")
        first_line = log_path.read_text().partition("\n")[0]
        if server is None and first_line.startswith("port "):
            server = DAVServer(url=f"http://127.0.0.1:{int(first_line.split()[1])}", root=root)
        if server is not None:
            try:
                answer = requests.request(
                    "PROPFIND",
                    server.files_url + "/",
                    auth=(server.user.encode(), server.password.encode()),
                    headers={"Depth": "0"},
                    timeout=2,
                )
                if answer.status_code == 207:
                    return server
            except requests.RequestException:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"the WebDAV server did not answer in {timeout}s:\n{log_path.read_text()}")


def serve(root: Path):
    from cheroot import wsgi
    from wsgidav.fs_dav_provider import FilesystemProvider, FolderResource
    from wsgidav.wsgidav_app import WsgiDAVApp

    class PlainFolder(FolderResource):
        def get_used_bytes(self):
            return None

        def get_available_bytes(self):
            return None

    class QuotaFolder(FolderResource):
        def get_used_bytes(self):
            return QUOTA_USED

        def get_available_bytes(self):
            return QUOTA_AVAILABLE

    class Provider(FilesystemProvider):
        def __init__(self, path, folder_class):
            super().__init__(path, fs_opts={})
            self.folder_class = folder_class

        def get_resource_inst(self, path, environ):
            resource = super().get_resource_inst(path, environ)
            if type(resource) is FolderResource:
                resource.__class__ = self.folder_class
            return resource

    user, password = os.environ["DAV_USER"], os.environ["DAV_PASSWORD"]
    app = WsgiDAVApp(
        {
            "provider_mapping": {
                "/files": Provider(str(root / "files"), PlainFolder),
                "/quota": Provider(str(root / "quota"), QuotaFolder),
            },
            "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
            "http_authenticator": {"accept_basic": True, "accept_digest": False, "default_to_digest": False},
            "dir_browser": {"enable": False},
            "verbose": 1,
            "logging": {"enable_loggers": []},
        }
    )
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8)
    server.prepare()
    print(f"port {server.bind_addr[1]}", flush=True)
    server.serve()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
