"""Auth codes, OAuth codes and tokens stay out of the web servers' logs.

The Procfile's web line runs for real (gunicorn as a subprocess on its own
SQLite database in a temp dir, independent of the suite's database and
broker); runserver's request lines go through Django's logging, checked on
the handler settings.LOGGING configures.
"""

import datetime
import io
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from cryptography.fernet import Fernet
from django.core.servers.basehttp import WSGIRequestHandler
from django.utils.log import ServerFormatter

from imgbed_site.accesslog import RedactingLogger
from imgbed_site.redaction import redact_query, redact_text
from tests.files import png
from tests.processes import Spawned, clean_env, free_port

ROOT = Path(__file__).resolve().parent.parent

# Makes what the server will need: its tables, an upload code and a channel to send files to.
_PREPARE = """
import sys
import django
django.setup()
from django.core.management import call_command
from channels.models import Channel
from channels.onedrive.models import OneDriveChannel, OneDriveSettings
from uploads.models import UploadCode
call_command("migrate", verbosity=0, interactive=False)
code = UploadCode(label="access log test")
code.set_code(sys.argv[1])
code.save()
channel = OneDriveChannel.objects.create(
    name="Log test OneDrive", health=Channel.Health.CONNECTED,
    quota_total=1 << 40, quota_used=0, quota_remaining=1 << 40, quota_state="normal",
)
OneDriveSettings.objects.create(
    channel=channel, client_id="client", client_secret="secret", tenant_id="consumers", refresh_token="refresh"
)
"""


def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, sep, command = line.partition(":")
        if sep and kind.strip() == name:
            return command.strip()
    raise AssertionError(f"no {name} line in the Procfile")


def local_client() -> requests.Session:
    """A session for the local server: no proxy settings from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


def site_env(data_dir: Path, port: int) -> dict:
    env = clean_env()
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "imgbed_site.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_hex(32),
            "IMGBED_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "IMGBED_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}",
            "CELERY_BROKER_URL": "filesystem://",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def procfile_web(tmp_path):
    """The Procfile's web line, run by a shell as Procfile runners do; (url, upload code, process)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    env = site_env(data_dir, port)
    upload_code = "code-" + secrets.token_hex(12)
    prepared = subprocess.run(
        [sys.executable, "-c", _PREPARE, upload_code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr

    web = Spawned(["/bin/sh", "-c", "exec " + procfile_line("web")], env, ROOT, tmp_path / "web.log")
    try:
        url = f"http://127.0.0.1:{port}"

        def answers():
            try:
                return local_client().get(url + "/api/channels", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        web.wait_until(answers, timeout=60, what="gunicorn to answer")
        yield url, upload_code, web
    finally:
        web.stop()


def test_procfile_web_logs_no_secrets(procfile_web):
    url, upload_code, web = procfile_web
    referer_token = "ref-" + secrets.token_hex(12)
    bearer = "bearer-" + secrets.token_hex(12)
    header_code = "hdr-" + secrets.token_hex(12)
    oauth_code, oauth_state = "SECRETCODE" + secrets.token_hex(6), "SECRETSTATE" + secrets.token_hex(6)

    with local_client() as http:
        uploaded = http.post(
            f"{url}/upload?authCode={upload_code}&uploadFolder=logs",
            files={"file": ("dot.png", png(), "image/png")},
            headers={"Referer": f"{url}/?token={referer_token}&lang=en"},
            timeout=30,
        )
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()[0]["src"].startswith("/file/")
        listed = http.get(
            f"{url}/api/channels", headers={"Authorization": f"Bearer {bearer}", "authCode": header_code}
        )
        assert listed.status_code == 200
        callback = http.get(
            f"{url}/api/oauth/onedrive/callback?code={oauth_code}&state={oauth_state}", timeout=30
        )
        assert callback.status_code == 403  # not signed in: but the line is logged all the same

    # gunicorn writes each access line once its response is out: wait for all three.
    paths = ("/upload?", "/api/channels HTTP", "/api/oauth/onedrive/callback?")
    log = web.wait_until(
        lambda: all(path in (text := web.output()) for path in paths) and text,
        timeout=30,
        what="the three access log lines",
    )
    for secret in (upload_code, referer_token, bearer, header_code, oauth_code, oauth_state):
        assert secret not in log
    assert re.search(r'"POST /upload\?authCode=\[redacted\]&uploadFolder=logs HTTP/1\.1" 200 ', log), log
    assert f'"{url}/?token=[redacted]&lang=en"' in log, log
    assert "/api/oauth/onedrive/callback?code=[redacted]&state=[redacted] HTTP/1.1" in log, log


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("POST /upload?authCode=abc123 HTTP/1.1", "POST /upload?authCode=[redacted] HTTP/1.1"),
        ("/x?AUTHCODE=a&Access_Token=b&keep=1", "/x?AUTHCODE=[redacted]&Access_Token=[redacted]&keep=1"),
        ("/x?auth%43ode=abc", "/x?auth%43ode=[redacted]"),  # Django decodes the name to authCode
        ("/x?authCode=ab;cd?ef=gh&uploadFolder=a", "/x?authCode=[redacted]&uploadFolder=a"),
        ("/login/?next=/upload%3FauthCode%3Dabc", "/login/?next=[redacted]"),
        ("/cb?code=c&state=s&session_state=x", "/cb?code=[redacted]&state=[redacted]&session_state=x"),
        (
            "https://site/#access_token=t&id_token=i",
            "https://site/#access_token=[redacted]&id_token=[redacted]",
        ),
        (
            "/x?password=p&client_secret=s&refresh_token=r",
            "/x?password=[redacted]&client_secret=[redacted]&refresh_token=[redacted]",
        ),
        (
            # An S3 presigned URL (a redirect-mode channel's Location, or a Referer from such a page).
            "https://s3.example/b/k.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101"
            "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host"
            "&X-Amz-Security-Token=tok&X-Amz-Signature=abc123",
            "https://s3.example/b/k.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]"
            "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host"
            "&X-Amz-Security-Token=[redacted]&X-Amz-Signature=[redacted]",
        ),
        (
            "https://s3.example/b/k?AWSAccessKeyId=AKIA&Expires=1&Signature=sig%3D",
            "https://s3.example/b/k?AWSAccessKeyId=[redacted]&Expires=1&Signature=[redacted]",
        ),
        (
            # OneDrive's pre-authenticated downloadUrl.
            "https://x-my.sharepoint.com/personal/a/_layouts/15/download.aspx?UniqueId=u&tempauth=eyJ0.x&ApiVersion=2.0",
            "https://x-my.sharepoint.com/personal/a/_layouts/15/download.aspx?UniqueId=u&tempauth=[redacted]"
            "&ApiVersion=2.0",
        ),
        ("exit code=3 state=ok", "exit code=3 state=ok"),  # not a query
        ("/upload?uploadFolder=a&returnFormat=full", "/upload?uploadFolder=a&returnFormat=full"),
    ],
)
def test_redact_text(text, expected):
    assert redact_text(text) == expected


def test_redact_query():
    assert redact_query("authCode=abc&uploadFolder=a") == "authCode=[redacted]&uploadFolder=a"


@pytest.fixture
def gunicorn_logger():
    """RedactingLogger as gunicorn builds it, every header and environ atom in its access format."""
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set(
        "access_log_format",
        "%(r)s|%(q)s|%(f)s|%({authorization}i)s|%({AuthCode}i)s|%({cookie}i)s|%({x-csrftoken}i)s|"
        "%({set-cookie}o)s|%({location}o)s|%({http_authorization}e)s|%({http_authcode}e)s|"
        "%({http_cookie}e)s|%({raw_uri}e)s|%({query_string}e)s|%({http_referer}e)s|%(a)s",
    )
    logger = RedactingLogger(cfg)
    streams = {"gunicorn.access": io.StringIO(), "gunicorn.error": io.StringIO()}

    def capture():
        for log in (logger.access_log, logger.error_log):
            for handler in log.handlers:
                handler.setStream(streams[log.name])

    capture()
    yield logger, streams, capture
    for log in (logger.access_log, logger.error_log):
        for handler in list(log.handlers):
            log.removeHandler(handler)
        for found in list(log.filters):
            log.removeFilter(found)


def test_gunicorn_atoms_hide_secret_headers_and_parameters(gunicorn_logger):
    logger, streams, _ = gunicorn_logger
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/upload?authCode=SECRETQUERY&uploadFolder=a",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/upload",
        "QUERY_STRING": "authCode=SECRETQUERY&uploadFolder=a",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": "https://app.example/?token=SECRETREFERER",
        "HTTP_AUTHORIZATION": "Bearer SECRETBEARER",
        "HTTP_AUTHCODE": "SECRETHEADER",
        "HTTP_COOKIE": "sessionid=SECRETCOOKIE",
        "HTTP_USER_AGENT": "PicGo",
    }
    req = SimpleNamespace(
        headers=[
            ("AUTHORIZATION", "Bearer SECRETBEARER"),
            ("AUTHCODE", "SECRETHEADER"),
            ("COOKIE", "sessionid=SECRETCOOKIE"),
            ("X-CSRFTOKEN", "SECRETCSRF"),
            ("REFERER", "https://app.example/?token=SECRETREFERER"),
        ]
    )
    resp = SimpleNamespace(
        status="302 Found",
        sent=0,
        headers=[("Set-Cookie", "sessionid=SECRETSESSION"), ("Location", "https://login/x?state=SECRETLOC")],
    )
    logger.access(resp, req, environ, datetime.timedelta(milliseconds=5))
    line = streams["gunicorn.access"].getvalue()
    assert "SECRET" not in line, line
    assert line.strip() == "|".join(
        [
            "POST /upload?authCode=[redacted]&uploadFolder=a HTTP/1.1",
            "authCode=[redacted]&uploadFolder=a",
            "https://app.example/?token=[redacted]",
            *["[redacted]"] * 5,
            "https://login/x?state=[redacted]",
            *["[redacted]"] * 3,
            "/upload?authCode=[redacted]&uploadFolder=a",
            "authCode=[redacted]&uploadFolder=a",
            "https://app.example/?token=[redacted]",
            "PicGo",
        ]
    )


def test_gunicorn_error_log_hides_request_uris(gunicorn_logger):
    logger, streams, capture = gunicorn_logger
    # What a worker logs when the application raises.
    logger.error("Error handling request %s %s", "POST", "/upload?authCode=SECRETERROR")
    logger.setup(logger.cfg)  # a configuration reload runs setup() again, with new handlers
    capture()
    logger.warning("Invalid request from ip=1.2.3.4: Invalid HTTP request line: 'GET /?token=SECRETTOO'")
    out = "".join(s.getvalue() for s in streams.values())
    assert "SECRET" not in out, out
    assert "Error handling request POST /upload?authCode=[redacted]" in out
    assert "Invalid HTTP request line: 'GET /?token=[redacted]" in out
    assert len(logger.error_log.filters) == 1


@pytest.fixture
def runserver_log():
    """What the django.server handler (as settings.LOGGING makes it) writes, in a StringIO."""
    # pytest adds its own capturing handlers beside it.
    [handler] = [
        h for h in logging.getLogger("django.server").handlers if isinstance(h.formatter, ServerFormatter)
    ]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_runserver_request_lines_hide_secrets(runserver_log):
    # WSGIRequestHandler.log_message is what runserver calls for every request.
    handler = SimpleNamespace(request=None, log_date_time_string=lambda: "03/Dec/2026 10:00:00")
    log_line = WSGIRequestHandler.log_message
    log_line(handler, '"%s" %s %s', "POST /upload?authCode=SECRETUPLOAD&uploadFolder=a HTTP/1.1", "200", "42")
    log_line(
        handler,
        '"%s" %s %s',
        "GET /api/oauth/onedrive/callback?code=SECRETC&state=SECRETS HTTP/1.1",
        "403",
        "9",
    )
    log_line(handler, '"%s" %s %s', "GET /api/channels HTTP/1.1", "200", "27")
    out = runserver_log.getvalue()
    assert "SECRET" not in out, out
    assert '"POST /upload?authCode=[redacted]&uploadFolder=a HTTP/1.1" 200 42' in out
    assert '"GET /api/oauth/onedrive/callback?code=[redacted]&state=[redacted] HTTP/1.1" 403 9' in out
    assert '"GET /api/channels HTTP/1.1" 200 27' in out
