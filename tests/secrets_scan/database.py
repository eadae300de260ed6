"""The database sink: every write this process sends, and every table read before a test's
rows go (a test's own PostgreSQL by pg_dump)."""

import json

from tests.secrets_scan.scanner import Scanner, current


def _sql_writer(execute, sql, params, many, context):
    head = sql.lstrip()[:6].upper()
    if head in ("INSERT", "UPDATE"):
        table = _table_of(sql)
        text = repr(params)
        if table == "django_session":
            text += "\n" + _decoded_sessions(params if not many else [p for ps in params for p in ps])
        current().write("database", f"a write to {table}", text)
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
