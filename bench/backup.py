"""export_library and import_library over 100,000 files: time and peak memory.

Fills a fresh database as bench/manage_list.py does (--rows files, 200 tags, 0 to 3
a file; SQLite in a temp dir, or with DATABASE_URL a PostgreSQL database made for
the run and dropped after it), gives every tenth file an old link, then: exports
to a file, deletes every file row and tag, imports, and imports again (nothing
to change). Peak memory is Python's own allocations (tracemalloc) during each
step with --memory, so the figures say whether anything grows with the number of files.

    .venv/bin/python bench/backup.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_imgbed .venv/bin/python bench/backup.py
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.manage_list import _database, _fill, _pg  # noqa: E402


def _step(label, run, memory):
    if memory:
        tracemalloc.start()
    began = time.perf_counter()
    said = run()
    took = time.perf_counter() - began
    figures = f"{label:<28} {took:7.1f} s"
    if memory:
        figures += f"   peak {tracemalloc.get_traced_memory()[1] / 1024 / 1024:6.1f} MiB (traced, slower)"
        tracemalloc.stop()
    print(figures)
    return said


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--memory", action="store_true", help="trace Python's allocations (about 3x slower)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="imgbed-bench-backup-"))
    url, drop = _database(tmp)
    from cryptography.fernet import Fernet

    os.environ.update(
        DATABASE_URL=url,
        IMGBED_DATA_DIR=str(tmp),
        DEBUG="false",
        SECRET_KEY="bench-" + os.urandom(16).hex(),
        IMGBED_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        CELERY_BROKER_URL="filesystem://",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="imgbed_site.settings",
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from library.models import Tag
        from uploads.models import FormerId, StoredFile

        call_command("migrate", verbosity=0, interactive=False)
        _fill(args.rows)
        FormerId.objects.bulk_create(
            [
                FormerId(public_id=f"old/{public_id}", file_id=pk)
                for pk, public_id in StoredFile.objects.filter(
                    pk__in=range(1, args.rows + 1, 10)
                ).values_list("pk", "public_id")
            ]
        )
        print(f"{connection.vendor}: {args.rows:,} files")
        backup = tmp / "library.json"

        def command(*argv):
            out = io.StringIO()
            call_command(*argv, stdout=out)
            return out.getvalue()

        _step("export_library", lambda: command("export_library", str(backup)), args.memory)
        print(f"{'export size':<28} {backup.stat().st_size / 1024 / 1024:7.1f} MiB")
        StoredFile.objects.all().delete()
        Tag.objects.all().delete()
        said = _step(
            "import_library (empty site)", lambda: command("import_library", str(backup)), args.memory
        )
        print("    " + said.splitlines()[1])
        said = _step("import_library again", lambda: command("import_library", str(backup)), args.memory)
        print("    " + said.splitlines()[1])
        connection.close()
    finally:
        if drop:
            from django.db import connections

            connections.close_all()
            _pg(drop[0], f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
