"""Every secret the suite creates, looked for in plaintext wherever the site writes or shows things.

Recorded as they are made: whatever an encrypted field stores (client secrets, refresh and
access tokens, S3 and WebDAV secrets, upload session URLs) or `channels.crypto` encrypts, API
tokens as issued, auth codes as set, everything a Graph emulator hands out (app secrets,
refresh and access tokens, OAuth codes, upload session ids) and the S3 and WebDAV test
servers' credentials. Credentials seen travelling are recorded too: in the `requests` calls of this process (the
tests' own, to the web processes they start, and the site's, to Graph and the token endpoint)
and in the requests the site answers here (authCode, Bearer and Basic credentials, OAuth codes).
Values shorter than MIN_LENGTH characters are left out: they would match by accident (the
summary counts them).

Looked for, as they are written and at the end of each test, in:

- database: the parameters of every INSERT and UPDATE this process sends, and a read of every
  table (sessions decoded) before a database test's data is rolled back or flushed, so rows
  the worker and web processes wrote count too, and a pg_dump of a test's own PostgreSQL;
- result backend: django-celery-results' tables in that read;
- log: every record the site's own log handlers (settings.LOGGING) let through, as formatted;
- process log: the output of the site's processes the tests start (web, workers, beat, runs);
- broker message: each task published here (body and headers), and the messages waiting in the
  broker (Redis or the filesystem transport, and a test's own Redis) at the end of each test;
- page: every response the site renders in this process (test client and live server), the
  admin and the operations page included, and the admin and OAuth pages the web processes the
  tests start send to the tests' `requests` calls.

By design a page may show a secret once: the OAuth callback shows the one refresh token it just
received, and an API token's "created" page shows the token just issued. Nothing else is let by.

Findings are listed at the end of the run as "sink: kind found in <where>" (never the secret)
and fail it. Turn the scan off with `-p no:tests.secrets_scan`.
"""

import time

import pytest

from tests.secrets_scan.broker import install_broker_hooks, waiting_messages
from tests.secrets_scan.database import dump_database, dump_private_postgres, install_sql_hook
from tests.secrets_scan.logs import install_log_hooks
from tests.secrets_scan.pages import install_page_hook, install_sent_hook
from tests.secrets_scan.scanner import MIN_LENGTH, Scanner, current
from tests.secrets_scan.sources import install_secret_hooks


def private_servers(scanner: Scanner, item) -> None:
    """The database and broker a test made of its own (tests.stack), before its fixtures stop them."""
    values = getattr(item, "funcargs", {})
    cluster = values.get("private_postgres")
    if cluster is not None:
        scanner.watch_log(cluster.directory / "log", "the test's own PostgreSQL's log")
        dump_private_postgres(scanner, cluster)
    server = values.get("private_redis")
    if server is not None:
        waiting_messages(scanner, server.url)


def pytest_sessionstart(session):
    install_secret_hooks()
    install_sql_hook()
    install_log_hooks()
    install_broker_hooks()
    install_page_hook()
    install_sent_hook()


def _uses_database(item) -> bool:
    names = set(getattr(item, "fixturenames", ())) | set(getattr(item, "funcargs", {}))
    return "_django_db_helper" in names


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    # Before any fixture is torn down: the test's rows, messages and processes are still there.
    scanner = current()
    scanner.test = item.nodeid
    started = time.perf_counter()
    if _uses_database(item):
        try:
            dump_database(scanner)
        except Exception as exc:  # a test that broke the database on purpose (PostgreSQL restarted...)
            item.add_report_section("teardown", "secrets scan", f"the database could not be read: {exc}")
    waiting_messages(scanner)
    try:
        private_servers(scanner, item)
    except Exception as exc:  # servers the test broke on purpose
        item.add_report_section(
            "teardown", "secrets scan", f"the test's own servers could not be read: {exc}"
        )
    scanner.check()
    scanner.seconds += time.perf_counter() - started
    result = yield
    started = time.perf_counter()
    scanner.check()  # what the fixtures' teardown logged, and the processes they stopped
    scanner.seconds += time.perf_counter() - started
    scanner.test = "(between tests)"
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    current().test = item.nodeid


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    scanner = current()
    scanner.test = "(session end)"
    waiting_messages(scanner)
    scanner.check()
    if scanner.findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    scanner = current()
    found = scanner.report()
    write = terminalreporter.write_line
    terminalreporter.section("secrets scan", red=bool(found), green=not found)
    write(
        f"{len(scanner.kinds)} secrets looked for; {len(scanner.short)} shorter than {MIN_LENGTH} "
        "characters not looked for (they would match by chance)."
    )
    sinks = ", ".join(f"{sink} {count:,}" for sink, count in sorted(scanner.scanned.items()))
    write(f"Characters searched: {sinks or 'none'}; {scanner.seconds:.1f} s spent at the checks.")
    if found:
        write(f"{len(found)} place(s) hold a secret in plaintext, so the run fails:", red=True)
        for line in found:
            write("  " + line, red=True)
    else:
        write("No secret found in plaintext.", green=True)
