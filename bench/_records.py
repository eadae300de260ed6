"""What the benchmarks over many file records share: a fresh database with Django set up on it,
filled with files spread over a year, timed through Django's test client in this process.

The database is SQLite in a temp dir, or with DATABASE_URL a PostgreSQL database made for the run
and dropped after it: its name must contain "bench", else the script's own bench_<name> is used,
so a real database is never dropped.

The files (fill()): a third at the top and the rest in 50 albums of 10 subfolders; one in ten a
video; shapes in turn landscape 800x600, portrait 600x800 and square 700x700; with 200 tags (0 to
3 a file).
"""

import contextlib
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

SHAPES = ((800, 600), (600, 800), (700, 700))


def _pg(admin_url, *statements):
    import psycopg

    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def _database(tmp: Path, fallback: str):
    """(DATABASE_URL for the run, the PostgreSQL admin URL and name to drop after, or None)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{tmp / 'bench.sqlite3'}", None
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"DATABASE_URL: only PostgreSQL or SQLite, not {url}")
    name = parts.path.lstrip("/")
    if "bench" not in name:
        name = fallback
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    _pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), (admin, name)


@contextlib.contextmanager
def site(name: str, keep: bool = False):
    """A migrated, empty database with Django set up on it, for the length of the block."""
    tmp = Path(tempfile.mkdtemp(prefix=f"imgbed-bench-{name}-"))
    url, drop = _database(tmp, f"bench_{name}")
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

        call_command("migrate", verbosity=0, interactive=False)
        yield url
        from django.db import connection

        connection.close()
    finally:
        if keep:
            print(f"kept: DATABASE_URL={url} IMGBED_DATA_DIR={tmp}")
        else:
            if drop:
                from django.db import connections

                connections.close_all()
                _pg(drop[0], f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)')
            shutil.rmtree(tmp, ignore_errors=True)


def fill(rows: int):
    from django.db import connection

    from channels.local.models import LocalChannel, LocalSettings
    from library.models import FileTag, Tag
    from uploads.models import StoredFile

    began = time.perf_counter()
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
                width, height = SHAPES[(n // 3) % 3]
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
                        width=width,
                        height=height,
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
    print(f"{connection.vendor}: {rows:,} files filled in {time.perf_counter() - began:.1f} s")


def timed(client, url, requests: int, check, **headers) -> tuple[float, float, object]:
    """(p50 ms, p99 ms, the last response) of `requests` GETs after 10 to warm up; check(response)
    must pass for each."""
    for _ in range(10):
        client.get(url, **headers)
    took = []
    response = None
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(url, **headers)
        took.append((time.perf_counter() - t0) * 1000)
        check(response)
    return statistics.median(took), statistics.quantiles(took, n=100)[98], response
