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

import base64
import hashlib
import json
import logging
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

MIN_LENGTH = 8
# Above this many forms to look for, a text is walked once through an index of their first
# characters instead of being searched once per form.
DIRECT_SEARCH_LIMIT = 64
# Modules the tests run as stand-ins for other parties: their logs hold the secrets they issue.
STAND_INS = ("tests.emulator", "tests.s3server", "tests.webdavserver")
CALLBACK_PATH = "/api/oauth/onedrive/callback"
# Paths only the site serves: what a web process the tests started answers there is a page.
SITE_ONLY_PATHS = ("/admin/", "/api/oauth/")
# A value `channels.crypto` encrypted, before it is known as what it is.
GENERIC = "encrypted value"
# What an encrypted field holds, by the field's name.
FIELD_KINDS = {
    "client_secret": "client secret",
    "refresh_token": "refresh token",
    "access_token": "access token",
    "secret_access_key": "S3 secret",
    "password": "WebDAV secret",
    "upload_session_url": "upload session URL",
}


def forms(value: str) -> set[str]:
    """The ways a value may be written out: as is, URL-encoded, inside a JSON string."""
    found = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    return {f for f in found if len(f) >= MIN_LENGTH}


class Scanner:
    """The secrets known so far, texts waiting to be searched, and what was found where."""

    def __init__(self):
        self.kinds: dict[str, str] = {}  # secret -> its kind
        self._forms: dict[str, str] = {}  # a form of a secret -> the secret
        self._index: dict[str, list[str]] = {}  # first MIN_LENGTH characters -> forms
        self.short: set[str] = set()  # secrets too short to look for
        self.pending: list = []  # (sink, where, text, allow, test)
        self.findings: dict[tuple, str] = {}  # (sink, kind, where) -> the test it happened in
        self.logs: dict[Path, list] = {}  # a process's output -> [label, bytes already read]
        self.messages_seen: dict[tuple, int] = {}  # a waiting message -> how many secrets were known
        self.test = "(outside any test)"
        self.seconds = 0.0  # spent reading and searching at the checks, for the summary
        self.scanned: dict[str, int] = {}  # characters searched in each sink, for the summary
        self._lock = threading.Lock()

    # --- secrets -------------------------------------------------------------

    def add(self, kind: str, value) -> None:
        if not isinstance(value, str) or not value:
            return
        if value in self.kinds:
            if self.kinds[value] == GENERIC:  # learnt first from the encryption, now by what it is
                self.kinds[value] = kind
            return
        if len(value) < MIN_LENGTH:
            self.short.add(value)
            return
        with self._lock:
            self.kinds[value] = kind
            for form in forms(value):
                if form not in self._forms:
                    self._forms[form] = value
                    self._index.setdefault(form[:MIN_LENGTH], []).append(form)

    def secrets_in(self, text: str, sink: str = "") -> set[str]:
        """The known secrets that appear in `text`, in any of their forms."""
        self.scanned[sink] = self.scanned.get(sink, 0) + len(text)
        if len(text) < MIN_LENGTH:
            return set()
        if len(self._forms) <= DIRECT_SEARCH_LIMIT:
            # A copy: other threads (the live server's) may be adding secrets meanwhile.
            return {secret for form, secret in list(self._forms.items()) if form in text}
        found = set()
        index = self._index
        for i in range(len(text) - MIN_LENGTH + 1):
            candidates = index.get(text[i : i + MIN_LENGTH])
            if candidates:
                found.update(self._forms[f] for f in candidates if text.startswith(f, i))
        return found

    # --- sinks ---------------------------------------------------------------

    def write(self, sink: str, where: str, text, allow=None) -> None:
        """A text the site wrote or showed, searched at the next check (the secrets it may hold
        can be learnt later in the test, e.g. from the emulator). `allow(found)` drops the
        secrets the text may show by design."""
        if text:
            self.pending.append((sink, where, text if isinstance(text, str) else str(text), allow, self.test))

    def check(self) -> None:
        """Search every pending text and the processes' new output."""
        harvest(self)
        pending, self.pending = self.pending, []
        for sink, where, text, allow, test in pending:
            found = self.secrets_in(text, sink)
            if found and allow is not None:
                found = allow(found, self)
            for secret in found:
                self.findings.setdefault((sink, self.kinds[secret], where), test)
        self._check_logs()

    def watch_log(self, path, label: str) -> None:
        self.logs.setdefault(Path(path), [label, 0])

    def _check_logs(self) -> None:
        for path in list(self.logs):
            self.check_log(path)

    def check_log(self, path, last=False) -> None:
        """What a process wrote since the last look; `last` once it has stopped."""
        path = Path(path)
        entry = self.logs.get(path)
        if entry is None:
            return
        label, done = entry
        start = max(0, done - max(map(len, list(self._forms)), default=0))  # a secret may straddle the cut
        try:
            with open(path, "rb") as fh:
                fh.seek(start)
                data = fh.read()
        except FileNotFoundError:
            self.logs.pop(path, None)
            return
        entry[1] = start + len(data)
        for secret in self.secrets_in(data.decode(errors="replace"), "process log"):
            self.findings.setdefault(("process log", self.kinds[secret], label), self.test)
        if last:
            self.logs.pop(path, None)

    def report(self) -> list[str]:
        return [
            f"{sink}: {kind} found in {where} (during {test})"
            for (sink, kind, where), test in self.findings.items()
        ]


SCANNER = Scanner()


@contextmanager
def scanning_into(scanner: Scanner):
    """Send what the hooks see to `scanner` for a while (the scanner's own tests)."""
    global SCANNER
    previous, SCANNER = SCANNER, scanner
    try:
        yield scanner
    finally:
        SCANNER = previous


# --- where secrets come from -------------------------------------------------------


# Every Graph emulator made in this process: the session's, and those a test makes of its own.
EMULATORS = weakref.WeakSet()


def harvest(scanner: Scanner) -> None:
    """What the Graph emulators have issued."""
    for emulator in list(EMULATORS):
        harvest_emulator(scanner, emulator)


def harvest_emulator(scanner: Scanner, emulator) -> None:
    state = emulator._state
    with state.lock:
        apps = [app.client_secret for app in state.apps.values()]
        grants, tokens, codes = list(state.grants), list(state.access_tokens), list(state.codes)
    for value in apps:
        scanner.add("client secret", value)
    for value in grants:
        scanner.add("refresh token", value)
    for value in tokens:
        scanner.add("access token", value)
    for value in codes:
        scanner.add("OAuth code", value)


def _wrap(owner, name, make):
    original = getattr(owner, name)
    setattr(owner, name, make(original))


def install_secret_hooks() -> None:
    from channels import crypto
    from channels.fields import Ciphertext, EncryptedTextField
    from tests import hosts, s3server, webdavserver
    from tests.emulator.emulator import Emulator
    from tests.emulator.state import UploadSession
    from uploads.models import ApiToken, UploadCode

    def prep(original):
        def get_prep_value(self, value):
            if value and not isinstance(value, Ciphertext):
                SCANNER.add(FIELD_KINDS.get(self.name, f"{self.name} (encrypted field)"), str(value))
            return original(self, value)

        return get_prep_value

    def encrypt(original):
        def wrapped(plaintext):
            SCANNER.add(GENERIC, plaintext)
            return original(plaintext)

        return wrapped

    def issue(original):
        def wrapped(self):
            token = original(self)
            SCANNER.add("API token", token)
            return token

        return wrapped

    def set_code(original):
        def wrapped(self, code):
            SCANNER.add("auth code", code)
            return original(self, code)

        return wrapped

    def reset(original):
        def wrapped(self):
            harvest_emulator(SCANNER, self)  # what this test was issued, before it is forgotten
            return original(self)

        return wrapped

    def server(kind, *fields):
        def make(original):
            def init(self, *args, **kwargs):
                original(self, *args, **kwargs)
                for field in fields:
                    SCANNER.add(kind, getattr(self, field))

            return init

        return make

    def made(original):
        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            EMULATORS.add(self)

        return init

    _wrap(EncryptedTextField, "get_prep_value", prep)
    _wrap(crypto, "encrypt", encrypt)
    _wrap(ApiToken, "issue", issue)
    _wrap(UploadCode, "set_code", set_code)
    _wrap(Emulator, "__init__", made)
    _wrap(Emulator, "reset", reset)
    # An upload session's URL is pre-authenticated: its id is what makes it a credential.
    _wrap(UploadSession, "__init__", server("upload session URL", "id"))
    _wrap(s3server.S3Server, "__init__", server("S3 secret", "secret_access_key", "reader_secret"))
    _wrap(webdavserver.DAVServer, "__init__", server("WebDAV secret", "password"))
    SCANNER.add("S3 secret", s3server.SECRET_ACCESS_KEY)
    SCANNER.add("S3 secret", hosts.S3.secret_key)
    SCANNER.add("WebDAV secret", webdavserver.PASSWORD)


# --- the sinks ---------------------------------------------------------------------


def _sql_writer(execute, sql, params, many, context):
    head = sql.lstrip()[:6].upper()
    if head in ("INSERT", "UPDATE"):
        table = _table_of(sql)
        text = repr(params)
        if table == "django_session":
            text += "\n" + _decoded_sessions(params if not many else [p for ps in params for p in ps])
        SCANNER.write("database", f"a write to {table}", text)
    return execute(sql, params, many, context)


def _table_of(sql: str) -> str:
    words = sql.replace('"', " ").replace("`", " ").split()
    for keyword in ("INTO", "UPDATE"):
        if keyword in (w.upper() for w in words):
            position = [w.upper() for w in words].index(keyword)
            if position + 1 < len(words):
                return words[position + 1]
    return "a table"


def _decoded_sessions(values) -> str:
    """Session rows are signed, not encrypted: what they hold, readable."""
    from django.contrib.sessions.serializers import JSONSerializer
    from django.core import signing

    out = []
    for value in values or ():
        if isinstance(value, str) and ":" in value:
            try:
                data = signing.loads(
                    value, salt="django.contrib.sessions.SessionStore", serializer=JSONSerializer
                )
            except (signing.BadSignature, ValueError):
                continue
            out.append(json.dumps(data))
    return "\n".join(out)


def install_sql_hook() -> None:
    from django.db import connections
    from django.db.backends.signals import connection_created

    def on_connection(sender, connection, **kwargs):
        if _sql_writer not in connection.execute_wrappers:
            connection.execute_wrappers.append(_sql_writer)

    connection_created.connect(on_connection, weak=False, dispatch_uid="secrets_scan")
    for connection in connections.all(initialized_only=True):
        on_connection(None, connection)


# Tables whose rows only Django and the migrations write, the same in every test.
_STATIC_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


def dump_database(scanner: Scanner) -> None:
    """Every row of every table as a raw read sees it (workers' and web processes' rows too)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table in _STATIC_TABLES:
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows = cursor.fetchall()
            if not rows:
                continue
            text = "\n".join(map(repr, rows))
            if table == "django_session":
                text += "\n" + _decoded_sessions(v for row in rows for v in row)
            sink = "result backend" if table.startswith("django_celery_results") else "database"
            scanner.write(sink, f"the {table} table", text)


def dump_private_postgres(scanner: Scanner, cluster) -> None:
    """pg_dump of a test's own PostgreSQL (tests.stack.PrivatePostgres): what its processes stored."""
    done = cluster._as_postgres(
        cluster.bin / "pg_dump", "-h", "127.0.0.1", "-p", cluster.port, "-U", "postgres", "site", check=False
    )
    if done.returncode:
        return  # stopped by the test on purpose; what it held was read at the last test that could
    text = done.stdout
    sessions = text.partition("COPY public.django_session ")[2].partition("\\.")[0]
    text += "\n" + _decoded_sessions(field for line in sessions.splitlines() for field in line.split("\t"))
    scanner.write("database", "a pg_dump of the test's own PostgreSQL", text)


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


class _SiteHandlers:
    """The site's log handlers (settings.LOGGING), each record they emit as they format it."""

    def __init__(self):
        self.handlers = set()

    def install(self):
        loggers = [logging.getLogger()] + [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                if not type(handler).__module__.startswith("_pytest"):
                    self.handlers.add(handler)
        original = logging.Handler.handle
        handlers = self.handlers

        def handle(handler, record):
            emitted = original(handler, record)
            # The stand-ins' own records (the emulator's request lines) are Microsoft's side, not the site's.
            if emitted and handler in handlers and not record.name.startswith("tests."):
                try:
                    text = handler.format(record)
                except Exception:  # the handler reports a broken record itself
                    text = ""
                SCANNER.write("log", f"a record of {record.name}", text)
            return emitted

        logging.Handler.handle = handle


def install_log_hooks() -> None:
    _SiteHandlers().install()

    from tests import processes, worker

    def spawned(original):
        def init(self, args, env, cwd, log_path):
            original(self, args, env, cwd, log_path)
            command = " ".join(map(str, args))
            if not any(module in command for module in STAND_INS):
                SCANNER.watch_log(log_path, f"{Path(log_path).parent.name}/{Path(log_path).name}")

        return init

    def celery(original):
        def init(self, args, env):
            original(self, args, env)
            SCANNER.watch_log(self.log_path, f"a celery {args[0]}'s output")

        return init

    def stop(original):
        def wrapped(self, *args, **kwargs):
            try:
                return original(self, *args, **kwargs)
            finally:
                harvest(SCANNER)
                SCANNER.check_log(self.log_path, last=True)

        return wrapped

    _wrap(processes.Spawned, "__init__", spawned)
    _wrap(processes.Spawned, "stop", stop)
    _wrap(worker.CeleryProcess, "__init__", celery)
    _wrap(worker.CeleryProcess, "stop", stop)


def install_broker_hooks() -> None:
    from celery.signals import before_task_publish

    def published(sender=None, body=None, headers=None, **kwargs):
        SCANNER.write(
            "broker message", f"a {sender} message", repr(body) + "\n" + json.dumps(headers, default=repr)
        )

    before_task_publish.connect(published, weak=False, dispatch_uid="secrets_scan")


def decode_message(raw) -> str:
    """A kombu message as stored by its transport: the JSON envelope and its body, decoded."""
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    try:
        message = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(message, list) and message:  # the unacked hash holds [message, exchange, key]
        message = message[0]
    if not isinstance(message, dict):
        return raw
    body = message.get("body", "")
    if message.get("properties", {}).get("body_encoding") == "base64" and isinstance(body, str):
        try:
            body = base64.b64decode(body).decode(errors="replace")
        except ValueError:
            pass
    return raw + "\n" + str(body)


_redis_clients = {}


def _redis_client(url, keep: bool):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    if url in _redis_clients:
        return _redis_clients[url]
    # No retries: a Redis a test stopped on purpose must not hold up every check.
    client = redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    if keep:
        _redis_clients[url] = client
    return client


def waiting_messages(scanner: Scanner, url: str | None = None) -> None:
    """The messages sitting in the broker (the suite's, or the Redis at `url`): Redis lists and
    the unacked hash, or the filesystem transport's queue folder."""
    from django.conf import settings

    url = url or settings.CELERY_BROKER_URL
    if url.startswith("redis://"):
        import redis

        try:
            client = _redis_client(url, keep=url == settings.CELERY_BROKER_URL)
            for key in client.scan_iter(count=500):
                kind = client.type(key)
                if kind == b"list":
                    values = client.lrange(key, 0, -1)
                elif kind == b"hash":
                    values = client.hvals(key)
                else:
                    continue
                for value in values:
                    _waiting(scanner, f"the broker's {key.decode(errors='replace')}", value)
        except redis.RedisError:
            return  # a test that stopped Redis on purpose: its messages are gone with it
    elif url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        for path in folder.glob("*"):
            try:
                data = path.read_bytes()
            except OSError:
                continue  # taken by a worker meanwhile
            _waiting(scanner, "the broker's queue folder", data)


def _waiting(scanner: Scanner, where: str, raw: bytes) -> None:
    # A message that waits through many tests (a killed worker's, unacked) is searched again
    # only once more secrets are known.
    key = (where, hashlib.sha256(raw).digest())
    if scanner.messages_seen.get(key) != len(scanner.kinds):
        scanner.messages_seen[key] = len(scanner.kinds)
        scanner.write("broker message", where, decode_message(raw))


class PageScan:
    """Every response the site renders in this process; the middleware comes first, so it sees
    the page as sent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        learn_sent(SCANNER, "?" + request.META.get("QUERY_STRING", ""), request.headers)
        response = self.get_response(request)
        if getattr(response, "streaming", False):
            return response  # a served file's bytes
        allow = None
        if request.path == CALLBACK_PATH:
            allow = _one_refresh_token
        new_token = getattr(request, "_new_api_token", None)
        if new_token:
            allow = _only_besides({new_token})
        sink = "admin page" if request.path.startswith("/admin/") else "page"
        where = f"{request.method} {request.path} ({response.status_code})"
        text = response.get("Location", "") + "\n" + response.content.decode(errors="replace")
        SCANNER.write(sink, where, text, allow)
        return response


def _one_refresh_token(found, scanner):
    """The callback page shows the refresh token it just received, once: one, and of that kind."""
    refresh = {s for s in found if scanner.kinds[s] == "refresh token"}
    return found - refresh if len(refresh) == 1 else found


def _only_besides(allowed):
    return lambda found, scanner: found - allowed


# Credentials as they travel: query and form fields, by name (lower case), and their kind.
SENT_FIELDS = {
    "authcode": "auth code",
    "code": "OAuth code",
    "client_secret": "client secret",
    "refresh_token": "refresh token",
    "access_token": "access token",
    "password": "WebDAV secret",
}


def learn_sent(scanner: Scanner, url: str, headers, body=None) -> None:
    """The credentials in a request: secrets made where no hook sees them (a subprocess that set
    an auth code, a test's own) are known once they are sent."""
    from urllib.parse import parse_qsl, urlsplit

    fields = parse_qsl(urlsplit(url).query)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if isinstance(body, str) and "=" in body and "\n" not in body[:2000]:
        fields += parse_qsl(body[:100_000])
    for name, value in fields:
        kind = SENT_FIELDS.get(name.lower())
        if kind:
            scanner.add(kind, value)
    for name, value in (headers or {}).items():
        name = name.lower()
        if name == "authcode":
            scanner.add("auth code", value)
        elif name == "authorization" and value.lower().startswith("bearer "):
            scanner.add("bearer token", value[7:].strip())
        elif name == "authorization" and value.lower().startswith("basic "):
            try:
                scanner.add("WebDAV secret", base64.b64decode(value[6:]).decode().partition(":")[2])
            except ValueError:
                pass


def install_sent_hook() -> None:
    from urllib.parse import urlsplit

    import requests

    def send(original):
        def wrapped(self, request, **kwargs):
            learn_sent(SCANNER, request.url, request.headers, request.body)
            response = original(self, request, **kwargs)
            path = urlsplit(request.url).path
            # Pages of the web processes the tests start (only the site has these paths).
            if path.startswith(SITE_ONLY_PATHS) and not kwargs.get("stream"):
                allow = _one_refresh_token if path == CALLBACK_PATH else None
                sink = "admin page" if path.startswith("/admin/") else "page"
                where = f"{request.method} {path} ({response.status_code}, from a web process)"
                text = response.headers.get("Location", "") + "\n" + response.text
                SCANNER.write(sink, where, text, allow)
            return response

        return wrapped

    _wrap(requests.Session, "send", send)


def install_page_hook() -> None:
    from django.conf import settings

    name = f"{__name__}.PageScan"
    if name not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [name, *settings.MIDDLEWARE]


# --- pytest hooks ----------------------------------------------------------------------


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
    SCANNER.test = item.nodeid
    started = time.perf_counter()
    if _uses_database(item):
        try:
            dump_database(SCANNER)
        except Exception as exc:  # a test that broke the database on purpose (PostgreSQL restarted...)
            item.add_report_section("teardown", "secrets scan", f"the database could not be read: {exc}")
    waiting_messages(SCANNER)
    try:
        private_servers(SCANNER, item)
    except Exception as exc:  # servers the test broke on purpose
        item.add_report_section(
            "teardown", "secrets scan", f"the test's own servers could not be read: {exc}"
        )
    SCANNER.check()
    SCANNER.seconds += time.perf_counter() - started
    result = yield
    started = time.perf_counter()
    SCANNER.check()  # what the fixtures' teardown logged, and the processes they stopped
    SCANNER.seconds += time.perf_counter() - started
    SCANNER.test = "(between tests)"
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    SCANNER.test = item.nodeid


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    SCANNER.test = "(session end)"
    waiting_messages(SCANNER)
    SCANNER.check()
    if SCANNER.findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    found = SCANNER.report()
    write = terminalreporter.write_line
    terminalreporter.section("secrets scan", red=bool(found), green=not found)
    write(
        f"{len(SCANNER.kinds)} secrets looked for; "
        f"{len(SCANNER.short)} shorter than {MIN_LENGTH} characters not looked for (they would match by chance)."
    )
    sinks = ", ".join(f"{sink} {count:,}" for sink, count in sorted(SCANNER.scanned.items()))
    write(f"Characters searched: {sinks or 'none'}; {SCANNER.seconds:.1f} s spent at the checks.")
    if found:
        write(f"{len(found)} place(s) hold a secret in plaintext, so the run fails:", red=True)
        for line in found:
            write("  " + line, red=True)
    else:
        write("No secret found in plaintext.", green=True)
