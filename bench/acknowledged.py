"""How fast the site acknowledges small uploads, beside a bare Django view
that only writes the file to disk, under the same gunicorn configuration.

    .venv/bin/python bench/acknowledged.py                 # 200 uploads of 50 KB, 8 clients
    .venv/bin/python bench/acknowledged.py --worker-class gthread --threads 4 --web-workers 2

Only the acknowledgement is measured: no Celery worker runs, but the broker
is real, so every accepted POST commits its row and publishes its task. Both
targets run under gunicorn with the same options (by default 4 sync workers),
alternately for a few rounds after a warm-up; latencies are pooled. Goal: the
site's rate at least 0.7x the bare view's, and its p99 under 100 ms.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

RATE_GOAL = 0.7
P99_GOAL = 0.100


def queued_tasks() -> int:
    from imgbed_site.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue="celery", passive=True).message_count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200, help="uploads per target and round (default 200)")
    parser.add_argument("--size", type=int, default=50_000, help="bytes per file (default 50000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target (default 2)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    h.add_common_arguments(parser)
    args = parser.parse_args()

    with h.stack_from(args, "acknowledged") as stack:
        stack.start()
        gunicorn = dict(workers=args.web_workers, worker_class=args.worker_class, threads=args.threads)
        site = stack.web("site", **gunicorn)
        bare_dir = stack.tmp / "bare"
        bare_dir.mkdir()
        bare = h.Web(
            "bare",
            stack.env(BENCH_BARE_DIR=bare_dir),
            stack.log_dir,
            app="_bare_app:application",
            pythonpath=str(h.BENCH),
            **gunicorn,
        )
        stack.processes.append(bare)
        bare.wait_ready("/api/channels")
        print(
            f"acknowledged: {args.uploads} uploads of {args.size / 1000:g} KB x {args.rounds} rounds per target, "
            f"{args.clients} client threads"
        )
        print(f"  {stack.describe()}; no Celery worker running")
        config = f"{args.web_workers} {args.worker_class} workers" + (
            f" x {args.threads} threads" if args.worker_class == "gthread" else ""
        )
        print(f"  gunicorn for both: {config}")

        targets = {"site": site, "bare": bare}
        for web in targets.values():  # warm-up: imports, connections, every gunicorn worker
            h.run_load(web.url, [h.png_bytes(args.size) for _ in range(8 * args.web_workers)], args.clients)
        before = queued_tasks()

        runs = {name: [] for name in targets}
        cpu = dict.fromkeys(targets, 0.0)
        for _ in range(args.rounds):
            for name, web in targets.items():
                payloads = [h.png_bytes(args.size) for _ in range(args.uploads)]
                started_cpu = h.cpu_seconds(web.pid)
                runs[name].append(h.run_load(web.url, payloads, args.clients))
                cpu[name] += h.cpu_seconds(web.pid) - started_cpu
        enqueued = queued_tasks() - before

        print(
            f"\n  {'target':<30} {'files/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU ms/file':>11}"
        )
        figures = {}
        for name, results in runs.items():
            count = sum(r["count"] for r in results)
            rate = count / sum(r["seconds"] for r in results)
            latencies = sorted(x for r in results for x in r["latencies"])
            figures[name] = (rate, h.percentile(latencies, 50), h.percentile(latencies, 99), latencies[-1])
            label = "site POST /upload" if name == "site" else "bare Django view (disk only)"
            rate, p50, p99, worst = figures[name]
            print(
                f"  {label:<30} {rate:>8.1f} {p50 * 1000:>7.1f} {p99 * 1000:>7.1f} {worst * 1000:>7.1f}"
                f" {cpu[name] / count * 1000:>11.1f}"
            )
            per_round = ", ".join(f"{r['rate']:.1f}" for r in results)
            print(f"  {'':<30} rounds: {per_round} files/s")
        ratio = figures["site"][0] / figures["bare"][0]
        p99 = figures["site"][2]
        print(
            f"\n  tasks the site's POSTs left in the broker: {enqueued} (of {args.uploads * args.rounds} uploads)"
        )
        print(
            f"  ratio site / bare: {ratio:.2f}x ({'meets' if ratio >= RATE_GOAL else 'misses'} >= {RATE_GOAL}x); "
            f"site p99 {p99 * 1000:.0f} ms ({'meets' if p99 < P99_GOAL else 'misses'} < {P99_GOAL * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
