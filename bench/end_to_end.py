"""End-to-end time of one large file, POST /upload until its row is stored,
beside a plain client sending the same bytes straight to the emulator.

    .venv/bin/python bench/end_to_end.py               # 256 MiB, 3 runs of each
    .venv/bin/python bench/end_to_end.py --size 1024 --runs 5

Each run of the pipeline streams the file as a multipart body to gunicorn
(one sync worker), which stages it; one Celery worker (prefork, concurrency
1) sends it to the emulator in fragments, starting while the body still
arrives (IMGBED_EARLY_START_MAX; --no-early-start for the sequential path). The
direct baseline does what a plain client does: createUploadSession, then
fragments of the same size with requests. Direct and pipeline runs
alternate; medians are reported. Goal: the pipeline takes at most 1.5x the
direct time.

--client-mib-s paces the client (the POST body and the direct fragments
alike) like a slow link, e.g. `--size 64 --runs 1 --client-mib-s 1`: an
upload that takes gunicorn's sync worker longer than its --timeout (30 s by
default, and the Procfile sets none) is killed mid-request; compare
`--web-worker-class gthread`.
"""

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

GOAL = 1.5


def pipeline_run(stack, web, path, rate=None):
    """(total, POST, claimed, after the answer) seconds for one file through the site;
    claimed counts from the start of the POST (with early start, a worker takes the file
    while the POST is still sending it)."""
    claimed_at = []
    watching = threading.Event()
    watching.set()
    newest = stack.newest_file_pk()

    def watch_claim():
        from django.db import connection

        from uploads.models import StoredFile

        try:
            while watching.is_set() and not claimed_at:
                taken = StoredFile.objects.filter(pk__gt=newest).exclude(status=StoredFile.Status.PENDING)
                if taken.exists():
                    claimed_at.append(time.monotonic())
                time.sleep(0.01)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch_claim, daemon=True)
    started = time.monotonic()
    watcher.start()
    try:
        public_id, post_seconds = h.post_file(web.url, path, rate=rate)
        answered = started + post_seconds
        stored_at = stack.wait_stored([public_id], interval=0.01)[public_id]
    finally:
        watching.clear()
        watcher.join()
    claim = claimed_at[0] if claimed_at else stored_at
    return stored_at - started, post_seconds, claim - started, stored_at - answered


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=256, help="file size in MiB (default 256)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each, alternating (default 3)")
    parser.add_argument("--fragment-mib", type=float, default=10, help="fragment size in MiB (default 10)")
    parser.add_argument("--client-mib-s", type=float, help="pace the client to this many MiB/s (a slow link)")
    parser.add_argument("--web-worker-class", default="sync", help="gunicorn worker class (default sync)")
    parser.add_argument("--web-threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--web-timeout", type=int, help="gunicorn --timeout (default: gunicorn's, 30 s)")
    parser.add_argument(
        "--no-early-start", action="store_true", help="the worker starts only once the POST is answered"
    )
    h.add_common_arguments(parser)
    args = parser.parse_args()
    size = int(args.size * h.MiB)
    fragment = int(args.fragment_mib * h.MiB)
    rate = args.client_mib_s * h.MiB if args.client_mib_s else None
    try:
        run(args, size, fragment, rate)
    except h.UploadRefused as exc:
        print(f"\n  {exc}")
        sys.exit(1)


def run(args, size, fragment, rate):
    with h.stack_from(args, "end_to_end") as stack:
        early = 0 if args.no_early_start else 1
        stack.start(IMGBED_FRAGMENT_SIZE=fragment, IMGBED_EARLY_START_MAX=early)
        web = stack.web(
            workers=1, worker_class=args.web_worker_class, threads=args.web_threads, timeout=args.web_timeout
        )
        worker = stack.worker(concurrency=1, IMGBED_FRAGMENT_SIZE=fragment)
        processes = {"web": web.pid, "worker": worker.pid, "emulator": stack.emulator_pid}

        def cpu():
            """CPU seconds so far of each process tree, and of this one (the client)."""
            return {**{k: h.cpu_seconds(p) for k, p in processes.items()}, "client": time.process_time()}

        print(f"end_to_end: {h.human(size)} file, fragments of {h.human(fragment)}, {args.runs} runs each")
        print(f"  {stack.describe()}")
        gunicorn = f"1 {args.web_worker_class} worker" + (
            f" x {args.web_threads} threads" if args.web_worker_class == "gthread" else ""
        )
        timeout = f"--timeout {args.web_timeout}" if args.web_timeout else "default --timeout (30 s)"
        print(f"  web: gunicorn, {gunicorn}, {timeout}; worker: celery prefork, concurrency 1")
        print(f"  early start: {'off' if args.no_early_start else 'on'}")
        if rate:
            print(f"  client paced to {args.client_mib_s:g} MiB/s (POST body and direct fragments)")
        path = h.write_png(stack.files_dir / "large.png", size)

        # Warm-up: the worker redeems the refresh token, both paths open their first TLS connection.
        warm = h.write_png(stack.files_dir / "warm.png", 5 * h.MiB)
        h.direct_upload(stack.emulator, warm, "bench-direct/warm.png", fragment)
        pipeline_run(stack, web, warm)

        direct, pipeline = [], []
        cpu_used = {"direct": dict.fromkeys([*processes, "client"], 0.0), "pipeline": {}}
        cpu_used["pipeline"] = dict(cpu_used["direct"])

        def add_cpu(kind, before):
            for k, v in cpu().items():
                cpu_used[kind][k] += v - before[k]

        print(
            f"\n  {'run':>3}  {'direct s':>9}  {'pipeline s':>10}  {'POST s':>7}  {'claimed at':>10}"
            f"  {'stored after answer s':>21}"
        )
        for number in range(1, args.runs + 1):
            before = cpu()
            d = h.direct_upload(stack.emulator, path, f"bench-direct/run-{number}.png", fragment, rate)
            add_cpu("direct", before)
            before = cpu()
            try:
                p = pipeline_run(stack, web, path, rate)
            except h.UploadRefused as exc:
                timeouts = [line for line in web.log().splitlines() if "WORKER TIMEOUT" in line]
                raise h.UploadRefused(
                    f"run {number}, direct took {d:.1f} s; pipeline failed: {exc}\n  gunicorn: "
                    + ("\n  gunicorn: ".join(timeouts) or "(nothing logged)")
                ) from None
            add_cpu("pipeline", before)
            direct.append(d)
            pipeline.append(p)
            print(f"  {number:>3}  {d:>9.2f}  {p[0]:>10.2f}  {p[1]:>7.2f}  {p[2]:>10.2f}  {p[3]:>21.2f}")

        d = h.median(direct)
        total, post, claimed, after = (h.median(p[i] for p in pipeline) for i in range(4))
        ratio = total / d
        print(f"\n  medians of {args.runs} runs, {h.human(size)} ({h.mb(size):.1f} MB):")
        print(f"    direct to the emulator       {d:7.2f} s  {h.mb(size) / d:7.1f} MB/s")
        print(f"    pipeline, POST until stored  {total:7.2f} s  {h.mb(size) / total:7.1f} MB/s")
        print(f"      POST /upload (staging)     {post:7.2f} s  {h.mb(size) / post:7.1f} MB/s")
        print(f"      claimed by the worker at   {claimed:7.2f} s after the POST began")
        print(f"      stored, after the answer   {after:7.2f} s")
        print("    CPU seconds per run (this machine has 2 cores for all of them):")
        for kind, used in cpu_used.items():
            figures = ", ".join(f"{k} {v / args.runs:.2f}" for k, v in used.items() if v)
            print(f"      {kind:<9} {figures}")
        verdict = "meets" if ratio <= GOAL else "misses"
        print(f"    ratio pipeline / direct      {ratio:7.2f} x  ({verdict} the goal of <= {GOAL}x)")


if __name__ == "__main__":
    main()
