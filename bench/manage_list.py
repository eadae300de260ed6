"""GET /api/manage/list over 100,000 files: p50 / p99 per kind of page.

Fills a fresh database (SQLite in a temp dir, or with DATABASE_URL a PostgreSQL
database made for the run and dropped after it: its name must contain "bench",
else bench_manage_list is used) with --rows files spread over a year, a third of
them at the top and the rest in 50 albums of 10 subfolders, with 200 tags (0 to 3
a file); then times the whole request through Django (middleware, token check,
view, JSON) in this process, --requests times per page after a warm-up.

    .venv/bin/python bench/manage_list.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_imgbed .venv/bin/python bench/manage_list.py

--explain prints the database's plan of each page's id query.
"""

import argparse
import datetime
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _pg(admin_url, *statements):
    import psycopg

    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def _database(tmp: Path):
    """(DATABASE_URL for the run, the PostgreSQL admin URL and name to drop after, or None)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{tmp / 'bench.sqlite3'}", None
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"DATABASE_URL: only PostgreSQL or SQLite, not {url}")
    name = parts.path.lstrip("/")
    if "bench" not in name:
        name = "bench_manage_list"
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    _pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), (admin, name)


def _fill(rows: int):
    from django.db import connection

    from channels.local.models import LocalChannel, LocalSettings
    from library.models import FileTag, Tag
    from uploads.models import StoredFile

    channel = LocalChannel.objects.create(name="Disk", health="connected")
    LocalSettings.objects.create(channel=channel, path=str(ROOT / "var" / "bench-unused"))
    tags = Tag.objects.bulk_create([Tag(name=f"tag-{i}") for i in range(200)])
    rng = random.Random(7)
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    step = datetime.timedelta(days=365) / rows
    created = StoredFile._meta.get_field("created_at")
    created.auto_now_add = False  # the rows carry their own upload times
    try:
        for first in range(0, rows, 5000):
            batch = []
            for n in range(first, min(rows, first + 5000)):
                if n % 3 == 0:
                    folder = ""
                else:  # albums/0 ... albums/49, half of each album's files in its 10 subfolders
                    folder = f"albums/{n % 50}" + (f"/{n % 10}" if (n // 50) % 2 else "")
                name = f"{1735689600000 + n}_photo_{n}.png"
                public_id = f"{folder}/{name}" if folder else name
                batch.append(
                    StoredFile(
                        public_id=public_id,
                        original_name=f"photo_{n}.png",
                        folder=folder,
                        remote_path=f"imgbed/{public_id}",
                        size=50_000 + n,
                        sha256="0" * 64,
                        content_type="image/png" if n % 10 else "video/mp4",
                        category="image" if n % 10 else "video",
                        channel_id=channel.pk,
                        status=StoredFile.Status.STORED,
                        remote_id=f"imgbed/{public_id}",
                        uploader_ip="203.0.113.7",
                        width=800,
                        height=600,
                        created_at=start + step * n,
                    )
                )
            made = StoredFile.objects.bulk_create(batch)
            FileTag.objects.bulk_create(
                [FileTag(file=f, tag=t) for f in made for t in rng.sample(tags, rng.randint(0, 3))]
            )
    finally:
        created.auto_now_add = True
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        old = connection.connection.autocommit
        connection.connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        connection.connection.autocommit = old
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _token():
    from uploads.models import ApiToken

    row = ApiToken(name="bench", can_upload=False, can_list=True)
    token = row.issue()
    row.save()
    return token


def _pages(rows):
    top = (rows + 2) // 3
    return [
        ("top, first page", "count=50"),
        ("top, deep page", f"start={top - 50}&count=50"),
        ("whole tree, first page", "recursive=true&count=50"),
        ("whole tree, deep page", f"recursive=true&start={rows - 100}&count=50"),
        ("one album, first page", "dir=albums/7&count=50"),
        ("one album, deep page", f"dir=albums/7&recursive=true&start={rows * 2 // 150 - 60}&count=50"),
        ("tag filter", "recursive=true&includeTags=tag-3&count=50"),
        ("tag filter, deep page", f"recursive=true&includeTags=tag-3&start={rows * 3 // 400 - 60}&count=50"),
        ("video files", "recursive=true&fileType=video&count=50"),
        ("search", "recursive=true&search=photo_4242&count=50"),
        ("sum only", "count=-1&sum=true&recursive=true"),
    ]


def _explain(query):
    from django.db import connection

    from library import listing

    parsed = listing.parse(dict(p.split("=", 1) for p in query.split("&")))
    under = listing._under(parsed)
    source = under if parsed.recursive else under.filter(folder=parsed.folder)
    page = source.order_by("-created_at", "-id").values_list("pk", flat=True)
    page = page[parsed.start : parsed.start + parsed.count]
    options = {"analyze": True} if connection.vendor == "postgresql" else {}
    return page.explain(**options)


def _queries(client, page_url, auth):
    from django.db import connection

    seen = []

    def timed(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append(((time.perf_counter() - t0) * 1000, sql))

    with connection.execute_wrapper(timed):
        client.get(page_url, **auth)
    return seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--queries", action="store_true", help="time each SQL statement of one request")
    parser.add_argument("--keep", action="store_true", help="keep the database (and say where it is)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="imgbed-bench-list-"))
    url, drop = _database(tmp)
    from cryptography.fernet import Fernet

    os.environ.update(
        DATABASE_URL=url,
        IMGBED_DATA_DIR=str(tmp),
        DEBUG="false",  # no query log growing in memory
        SECRET_KEY="bench-" + os.urandom(16).hex(),
        IMGBED_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="testserver",
        CELERY_BROKER_URL="filesystem://",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="imgbed_site.settings",
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        call_command("migrate", verbosity=0, interactive=False)
        began = time.perf_counter()
        _fill(args.rows)
        print(f"{connection.vendor}: {args.rows:,} files filled in {time.perf_counter() - began:.1f} s")
        client = Client()
        auth = {"HTTP_AUTHORIZATION": f"Bearer {_token()}"}
        print(f"{'page':<26} {'p50 ms':>8} {'p99 ms':>8}  files  totalCount")
        for label, query in _pages(args.rows):
            page_url = f"/api/manage/list?{query}"
            for _ in range(10):
                client.get(page_url, **auth)
            took = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                response = client.get(page_url, **auth)
                took.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.content[:300]
            body = response.json()
            files = body.get("returnedCount", "-")
            total = body.get("totalCount", body.get("sum"))
            p50 = statistics.median(took)
            p99 = statistics.quantiles(took, n=100)[98]
            print(f"{label:<26} {p50:8.1f} {p99:8.1f}  {files!s:>5}  {total}")
            if args.explain and "sum" not in query:
                print("    " + _explain(query).replace("\n", "\n    "))
            if args.queries:
                for ms, sql in _queries(client, page_url, auth):
                    print(f"    {ms:7.2f} ms  {sql[:150]}")
        connection.close()
    finally:
        if args.keep:
            print(f"kept: DATABASE_URL={url} IMGBED_DATA_DIR={tmp}")
        else:
            if drop:
                from django.db import connections

                connections.close_all()
                _pg(drop[0], f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)')
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
