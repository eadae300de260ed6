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
import time

import _records as records


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

    with records.site("manage_list", keep=args.keep):
        from django.test import Client

        records.fill(args.rows)
        client = Client()
        auth = {"HTTP_AUTHORIZATION": f"Bearer {_token()}"}
        print(f"{'page':<26} {'p50 ms':>8} {'p99 ms':>8}  files  totalCount")
        for label, query in _pages(args.rows):
            page_url = f"/api/manage/list?{query}"

            def ok(response):
                assert response.status_code == 200, response.content[:300]

            p50, p99, response = records.timed(client, page_url, args.requests, ok, **auth)
            body = response.json()
            files = body.get("returnedCount", "-")
            total = body.get("totalCount", body.get("sum"))
            print(f"{label:<26} {p50:8.1f} {p99:8.1f}  {files!s:>5}  {total}")
            if args.explain and "sum" not in query:
                print("    " + _explain(query).replace("\n", "\n    "))
            if args.queries:
                for ms, sql in _queries(client, page_url, auth):
                    print(f"    {ms:7.2f} ms  {sql[:150]}")


if __name__ == "__main__":
    main()
