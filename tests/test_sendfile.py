"""Local channels' files handed to nginx (X-Accel-Redirect) or Apache (X-Sendfile): off by default,
and through a real nginx in front of the site the visitor gets the file's bytes, ranges included."""

import hashlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from channels.backends import backend_for
from channels.local.models import LocalChannel, LocalSettings
from tests.files import png
from uploads.models import StoredFile

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def local_file(folder, data, name="ünï pic.png"):
    channel = LocalChannel.objects.create(name="Disk")
    LocalSettings.objects.create(channel=channel, path=str(folder))
    key = f"imgbed/{name}"
    backend_for(channel).store(key, lambda offset: io.BytesIO(data[offset:]), len(data))
    return StoredFile.objects.create(
        public_id=name,
        original_name=name,
        remote_path=key,
        remote_id=key,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="image/png",
        channel=channel,
        status=StoredFile.Status.STORED,
    )


@pytest.mark.django_db
def test_off_by_default_the_site_streams_the_file(client, tmp_path):
    data = png(40_000)
    row = local_file(tmp_path, data)
    response = client.get(row.url_path)
    assert response.status_code == 200 and b"".join(response.streaming_content) == data
    assert "X-Accel-Redirect" not in response and "X-Sendfile" not in response


@pytest.mark.django_db
def test_apache_gets_the_path_and_the_site_keeps_its_headers(client, tmp_path, settings):
    settings.IMGBED_SENDFILE = "apache"
    row = local_file(tmp_path, png(1000))
    response = client.get(row.url_path)
    assert response.status_code == 200 and response.content == b""
    assert response["X-Sendfile"] == str(tmp_path / row.remote_id)
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert client.get(row.url_path, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


@pytest.mark.django_db
def test_a_file_gone_from_the_folder_is_a_clear_error_not_a_handoff(client, tmp_path, settings):
    settings.IMGBED_SENDFILE = "nginx"
    row = local_file(tmp_path, png(1000))
    (tmp_path / row.remote_id).unlink()
    response = client.get(row.url_path)
    assert response.status_code in (404, 503) and "X-Accel-Redirect" not in response


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx(live_server, tmp_path):
    """nginx in front of the site, with an internal location over the channel's folder."""
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light); .ci/run installs it")
    files = Path(tempfile.mkdtemp(prefix="imgbed-sendfile-"))  # nginx's worker must reach it
    files.chmod(0o755)
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path};
    proxy_temp_path {tmp_path};
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass {live_server.url}; proxy_set_header Host $http_host; }}
        location /_imgbed_local{files}/ {{ internal; alias {files}/; }}
    }}
}}
"""
    )
    user = ["-g", "user root;"] if os.geteuid() == 0 else []  # as root, nginx's worker would be nobody
    process = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path), *user], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):  # until it listens: connect, not sleep
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode()) from None
        yield url, files
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(files, ignore_errors=True)


@pytest.mark.django_db(transaction=True)
def test_nginx_sends_the_bytes_and_the_ranges(nginx, settings):
    url, files = nginx
    settings.IMGBED_SENDFILE = "nginx"
    data = png(300_000)
    row = local_file(files, data)

    full = requests.get(url + row.url_path, timeout=10)
    assert full.status_code == 200 and full.content == data
    assert full.headers["Content-Type"] == "image/png"
    assert full.headers["Content-Disposition"].startswith("inline;")
    assert "X-Accel-Redirect" not in full.headers  # nginx acts on it, the visitor never sees it

    part = requests.get(url + row.url_path, headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert part.status_code == 206 and part.content == data[1000:2000]

    # The internal location is for the site's hand-offs only.
    assert requests.get(f"{url}/_imgbed_local{files}/{row.remote_id}", timeout=10).status_code == 404
