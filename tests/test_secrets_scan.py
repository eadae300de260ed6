"""The suite's secrets scan (tests/secrets_scan/) catches a secret planted in each place it watches.

Each test plants a secret only its own scanner knows, so the suite's scan does not count it.
"""

import base64
import json
import logging
import os
import re
import sys
from urllib.parse import quote

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django_celery_results.models import TaskResult
from kombu import Queue

from channels.models import Channel
from tests import secrets_scan
from tests.processes import Spawned
from tests.secrets_scan import broker, database
from tests.secrets_scan.pages import one_refresh_token
from tests.secrets_scan.scanner import Scanner, scanning_into
from tests.stack import private_postgres, private_redis  # noqa: F401 (fixtures)

# URL-unsafe characters on purpose: written into a URL, it is no longer the same string.
PLANTED = "planted/secret+value-0123456789"


@pytest.fixture
def scanner(request):
    if not request.config.pluginmanager.has_plugin("tests.secrets_scan"):
        pytest.skip(
            "the secrets scan is turned off (-p no:tests.secrets_scan): its hooks are not there to test"
        )
    with scanning_into(Scanner()) as scanner:
        scanner.add("API token", PLANTED)
        yield scanner


def found(scanner, sink, where=None):
    scanner.check()
    return {
        (s, kind, w)
        for (s, kind, w) in scanner.findings
        if s == sink and (where is None or re.search(where, w))
    }


def test_nothing_is_found_where_no_secret_went(scanner, db):
    Channel.objects.create(name="Disk", note="nothing to see")
    database.dump_database(scanner)
    logging.getLogger("uploads").warning("an upload failed")
    scanner.check()
    assert scanner.findings == {}


@pytest.mark.django_db
def test_a_secret_written_to_the_database_is_found_in_the_write_and_in_the_table(scanner):
    Channel.objects.create(name="Disk", note=f"pasted by mistake: {PLANTED}")
    assert found(scanner, "database", "a write to channels_channel") == {
        ("database", "API token", "a write to channels_channel")
    }
    database.dump_database(scanner)
    assert found(scanner, "database", "the channels_channel table")


@pytest.mark.django_db
def test_a_secret_in_a_session_is_found_though_sessions_are_signed_not_plain(scanner):
    session = SessionStore()
    session["pending"] = {"client_secret": PLANTED}
    session.save()
    assert found(scanner, "database", "a write to django_session")
    scanner.findings.clear()
    database.dump_database(scanner)
    assert found(scanner, "database", "the django_session table")


@pytest.mark.django_db
def test_a_secret_in_a_task_result_is_found_in_the_result_backend(scanner):
    TaskResult.objects.create(task_id="t-1", status="FAILURE", traceback=f"ChannelError: refused {PLANTED}")
    database.dump_database(scanner)
    assert found(scanner, "result backend", "django_celery_results_taskresult")


def test_a_secret_logged_by_the_site_is_found_and_a_masked_one_is_not(scanner):
    logging.getLogger("uploads.tasks").warning("the channel refused %s", PLANTED)
    assert found(scanner, "log", "uploads.tasks")
    scanner.findings.clear()
    # The site's handlers mask secret query values: what they write is what counts.
    logging.getLogger("django.server").info('"GET /upload?authCode=%s HTTP/1.1" 200', PLANTED)
    assert not found(scanner, "log")


def test_a_url_encoded_secret_in_a_log_is_found(scanner):
    logging.getLogger("channels").warning("GET https://host/x?k=%s", "planted%2Fsecret%2Bvalue-0123456789")
    assert found(scanner, "log")


def test_a_secret_in_a_process_output_is_found(scanner, tmp_path):
    process = Spawned(
        [sys.executable, "-c", f"print('starting with {PLANTED}')"],
        dict(os.environ),
        tmp_path,
        tmp_path / "web.log",
    )
    process.popen.wait(30)
    process.stop()
    assert found(scanner, "process log", "web.log")


def test_a_secret_in_a_published_task_and_in_the_waiting_queue_is_found(scanner, settings):
    from imgbed_site.celery import app

    queue = "secrets-scan-test"
    try:
        app.send_task("uploads.tasks.no_such_task", args=[PLANTED], queue=queue)
        assert found(scanner, "broker message", "uploads.tasks.no_such_task")
        scanner.findings.clear()
        broker.waiting_messages(scanner)
        assert found(scanner, "broker message", "the broker's")
    finally:
        with app.connection_for_write() as connection:
            Queue(queue, channel=connection.default_channel).purge()


def test_a_secret_on_an_admin_page_is_found(scanner, staff_client):
    Channel.objects.create(name=PLANTED[:90])
    assert staff_client.get("/admin/channels/channel/").status_code == 200
    assert found(scanner, "admin page", r"GET /admin/channels/channel/ \(200\)")


def test_the_api_token_just_issued_may_be_shown_once_and_nowhere_else(scanner, staff_client):
    response = staff_client.post("/admin/uploads/apitoken/add/", {"name": "sharex", "can_upload": "on"})
    token = re.search(r'value="(imgbed_[^"]+)"', response.content.decode()).group(1)
    assert scanner.kinds[token] == "API token"  # learnt when issued
    assert not found(scanner, "admin page")
    # The same token in any other response is a leak.
    Channel.objects.create(name=token)
    staff_client.get("/admin/channels/channel/")
    assert found(scanner, "admin page", "GET /admin/channels/channel/")


def test_the_callback_page_may_show_one_refresh_token_and_nothing_else(scanner):
    scanner.add("refresh token", "M.C123-refresh-one-0123456789")
    scanner.add("refresh token", "M.C123-refresh-two-0123456789")
    scanner.add("client secret", "client~secret-0123456789")
    allow = one_refresh_token
    one = "<input value='M.C123-refresh-one-0123456789'>"
    scanner.write("page", "callback one", one, allow)
    scanner.write("page", "callback two", one + "M.C123-refresh-two-0123456789", allow)
    scanner.write("page", "callback secret", one + "client~secret-0123456789", allow)
    scanner.check()
    assert set(scanner.findings) == {
        ("page", "refresh token", "callback two"),
        ("page", "client secret", "callback secret"),
    }


def test_emulator_tokens_are_known_without_being_told(scanner, emulator, entra_app, ada):
    refresh = emulator.issue_refresh_token(entra_app, ada)
    logging.getLogger("channels").warning("refreshing with %s", refresh)
    logging.getLogger("channels").warning("app secret %s", entra_app.client_secret)
    assert {kind for _, kind, _ in found(scanner, "log")} == {"refresh token", "client secret"}


def test_short_values_are_not_looked_for_and_are_counted(scanner):
    scanner.add("auth code", "sesame")
    logging.getLogger("uploads").warning("code sesame")
    assert not found(scanner, "log")
    assert "sesame" in scanner.short


def test_a_finding_fails_the_run_and_names_the_place_but_not_the_secret(scanner):
    scanner.write("log", "a record of uploads", f"oops {PLANTED}")

    class Session:
        exitstatus = pytest.ExitCode.OK

    secrets_scan.pytest_sessionfinish(Session, Session.exitstatus)
    assert Session.exitstatus == pytest.ExitCode.TESTS_FAILED
    (line,) = scanner.report()
    assert line.startswith("log: API token found in a record of uploads (during ")
    assert PLANTED not in line and PLANTED[:8] not in line
    assert json.dumps(scanner.report()).count("planted") == 0


def test_credentials_are_known_once_sent_to_or_received_by_the_site(scanner, client, emulator, db):
    import requests

    # One set in another process is known here only as it travels.
    client.get("/api/upload-list?authCode=sent-code-0123", HTTP_AUTHORIZATION="Bearer sent-bearer-0123")
    requests.post(
        f"{emulator.base_url}/consumers/oauth2/v2.0/token",
        data={"client_secret": "sent-secret-0123", "grant_type": "refresh_token"},
        timeout=30,
    )
    assert scanner.kinds["sent-code-0123"] == "auth code"
    assert scanner.kinds["sent-bearer-0123"] == "bearer token"
    assert scanner.kinds["sent-secret-0123"] == "client secret"


def test_a_secret_in_a_tests_own_postgres_and_redis_is_found(
    scanner,
    private_postgres,  # noqa: F811
    private_redis,  # noqa: F811
):
    private_postgres._as_postgres(
        "psql", "-h", "127.0.0.1", "-p", private_postgres.port, "-U", "postgres", "site",
        "-c", f"CREATE TABLE notes (v text); INSERT INTO notes VALUES ('{PLANTED}')",
    )  # fmt: skip
    body = base64.b64encode(json.dumps([[PLANTED], {}, {}]).encode()).decode()
    envelope = {"body": body, "headers": {}, "properties": {"body_encoding": "base64"}}
    private_redis.client().rpush("celery", json.dumps(envelope))
    assert PLANTED not in json.dumps(envelope)  # found only once the body is decoded
    database.dump_private_postgres(scanner, private_postgres)
    broker.waiting_messages(scanner, private_redis.url)
    assert found(scanner, "database", "pg_dump")
    assert found(scanner, "broker message", "the broker's celery")


def test_the_emulators_own_records_are_not_the_sites_logs(scanner):
    # The emulator stands for Microsoft, who holds the tokens anyway.
    logging.getLogger("tests.emulator").warning("PUT /upload/%s", PLANTED)
    assert not found(scanner, "log")


def test_a_secret_on_an_admin_page_of_a_web_process_is_found(scanner, live_server, db):
    import requests

    Channel.objects.create(name=PLANTED[:90])
    # Signed out: the admin's sign-in page, without the channel; then the page a web process
    # would send with the secret on it, as the tests' requests calls see it.
    requests.get(f"{live_server.url}/admin/channels/channel/", timeout=30)
    assert not found(scanner, "admin page", "from a web process")
    requests.get(f"{live_server.url}/admin/login/?next={quote(PLANTED)}", timeout=30)
    assert found(scanner, "admin page", "GET /admin/login/ .*from a web process")
