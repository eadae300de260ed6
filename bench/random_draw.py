"""GET /random and the first page of GET /api/public/list over 100,000 files: p50 / p99.

The files are bench/_records.py's (a third at the top, the rest in 50 albums of 10 subfolders,
one in ten a video, landscape, portrait and square in turn), with random images and public
browsing on for every folder. Each request goes whole through Django (middleware, settings
cache, view, JSON) in this process, --requests times after a warm-up. For /random, "counted"
is the share of draws whose id probes all missed, so that the matching files were counted.

    .venv/bin/python bench/random_draw.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_imgbed .venv/bin/python bench/random_draw.py
"""

import argparse

import _records as records

DRAWS = [
    ("any image", ""),
    ("landscape", "orientation=landscape"),
    ("video", "content=video"),
    ("one album", "dir=albums/7"),
    ("one album, portrait", "dir=albums/7&orientation=portrait"),
    ("one subfolder, video", "dir=albums/10/0&content=video"),
    ("url as text", "type=url&form=text"),
]
LISTS = [
    ("top, first page", ""),
    ("whole tree, first page", "recursive=true"),
    ("one album, first page", "dir=albums/7"),
    ("album tree, images", "dir=albums/7&recursive=true&type=image"),
]


def _counted(client, url, times=200) -> float:
    """The share of requests that counted the matching files (a COUNT query)."""
    from django.db import connection

    counts = 0

    def watch(execute, sql, params, many, context):
        nonlocal counts
        counts += "COUNT(" in sql
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        for _ in range(times):
            before = counts
            client.get(url)
            counts = before + (counts > before)
    return counts / times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database (and say where it is)")
    args = parser.parse_args()

    with records.site("random_draw", keep=args.keep):
        from django.test import Client

        from imgbed_site.models import SiteSettings

        records.fill(args.rows)
        SiteSettings.objects.update_or_create(
            pk=SiteSettings.SINGLETON_PK, defaults={"random_enabled": True, "public_browse": True}
        )
        client = Client()

        def found_one(response):
            assert response.status_code == 200, response.content[:300]
            assert response.content not in (b"{}", b""), "no file drawn"

        print(f"{'GET /random':<30} {'p50 ms':>8} {'p99 ms':>8}  counted")
        for label, query in DRAWS:
            url = f"/random?{query}"
            p50, p99, _ = records.timed(client, url, args.requests, found_one)
            print(f"{label:<30} {p50:8.1f} {p99:8.1f}  {_counted(client, url):6.0%}")

        def listed(response):
            assert response.status_code == 200, response.content[:300]

        print(f"\n{'GET /api/public/list':<30} {'p50 ms':>8} {'p99 ms':>8}  files  totalCount")
        for label, query in LISTS:
            p50, p99, response = records.timed(client, f"/api/public/list?{query}", args.requests, listed)
            body = response.json()
            print(f"{label:<30} {p50:8.1f} {p99:8.1f}  {body['returnedCount']:5}  {body['totalCount']}")


if __name__ == "__main__":
    main()
