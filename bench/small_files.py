"""Many small files through the whole pipeline with two worker processes.

    .venv/bin/python bench/small_files.py                 # 200 files of 50 KB per phase
    .venv/bin/python bench/small_files.py --files 500     # the full size
    .venv/bin/python bench/small_files.py --files 2000 --clients 8

Three figures, in this order, each on files not seen before:
  1. end to end: workers running, the files POSTed from a few client threads;
     files per second from the first POST until every row is stored;
  2. POST /upload only: the same number of files posted with no worker
     running (the rate at which the site acknowledges them);
  3. worker only: the files of 2, already queued, moved to the emulator by a
     freshly started worker; files per second from its "ready" to the last
     stored.
Beside them, the same number of simple PUTs sent straight to the emulator
from as many threads as there are worker processes: what the emulator
itself allows.

The web is gunicorn with 3 sync workers; the worker
is `celery worker --concurrency=2` (prefork: two pool processes).
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


def wait_all_stored(public_ids, timeout=900, interval=0.05):
    from uploads.models import StoredFile

    ids = list(public_ids)
    deadline = time.monotonic() + timeout
    while True:
        rows = StoredFile.objects.filter(public_id__in=ids)
        failed = rows.filter(status=StoredFile.Status.FAILED).values_list("public_id", "failure_reason")[:1]
        if failed:
            raise RuntimeError(f"{failed[0][0]} failed: {failed[0][1]}")
        done = rows.filter(status=StoredFile.Status.STORED).count()
        now = time.monotonic()
        if done == len(ids):
            return now
        if now > deadline:
            raise RuntimeError(f"{len(ids) - done} of {len(ids)} files not stored after {timeout}s")
        time.sleep(interval)


def time_to_stored(public_ids):
    """Seconds from each row's creation (POST answered) to stored, sorted."""
    from uploads.models import StoredFile

    rows = StoredFile.objects.filter(public_id__in=list(public_ids)).values_list("created_at", "stored_at")
    return sorted((stored - created).total_seconds() for created, stored in rows)


def direct_puts(emulator, payloads, threads):
    """Simple PUTs straight to the emulator, one keep-alive session per thread; files per second."""
    lock = threading.Lock()
    queue = list(enumerate(payloads))
    errors = []

    def client():
        with h.client() as http:
            http.verify = emulator["ca"]
            http.headers["Authorization"] = f"Bearer {emulator['access_token']}"
            while True:
                with lock:
                    if not queue:
                        return
                    index, data = queue.pop()
                url = (
                    f"{emulator['base_url']}/v1.0/me/drive/root:/bench-direct/small-{index}.png:/content"
                    "?@microsoft.graph.conflictBehavior=fail"
                )
                response = http.put(url, data=data, timeout=60)
                if response.status_code not in (200, 201):
                    errors.append(response.text[:300])

    workers = [threading.Thread(target=client) for _ in range(threads)]
    started = time.monotonic()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} direct PUTs failed, e.g. {errors[0]}")
    return len(payloads) / (time.monotonic() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files", type=int, default=200, help="files per phase (default 200; the full size is 500)"
    )
    parser.add_argument("--size", type=int, default=50_000, help="bytes per file (default 50000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads posting (default 4)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes (default 2)")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync workers (default 3)")
    parser.add_argument(
        "--polling-interval",
        type=float,
        help="override the filesystem broker's polling interval in the workers (seconds; kombu's default is 1)",
    )
    h.add_common_arguments(parser)
    args = parser.parse_args()
    n = args.files

    with h.stack_from(args, "small_files") as stack:
        stack.start()
        web = stack.web(workers=args.web_workers)
        worker = stack.worker(concurrency=args.concurrency, polling_interval=args.polling_interval)
        print(
            f"small_files: {n} files of {args.size / 1000:g} KB per phase, {args.clients} client threads, "
            f"gunicorn {args.web_workers} sync workers, celery prefork concurrency {args.concurrency}"
        )
        print(f"  {stack.describe()}")
        if args.polling_interval is not None:
            print(f"  workers' broker polling_interval overridden: {args.polling_interval} s")

        # Warm-up: every gunicorn worker and pool process has its imports and connections; the token is redeemed.
        warm = h.run_load(
            web.url, [h.png_bytes(args.size) for _ in range(4 * args.web_workers)], args.clients
        )
        wait_all_stored(warm["ids"])

        # 1. End to end, workers running.
        load = h.run_load(web.url, [h.png_bytes(args.size) for _ in range(n)], args.clients)
        done = wait_all_stored(load["ids"])
        e2e_seconds = done - load["first"]
        waits = time_to_stored(load["ids"])

        # 2. POST only, no worker.
        stack.stop(worker)
        payloads = [h.png_bytes(args.size) for _ in range(n)]
        web_cpu = h.cpu_seconds(web.pid)
        queued = h.run_load(web.url, payloads, args.clients)
        web_cpu = h.cpu_seconds(web.pid) - web_cpu

        # 3. Worker only, on the queued files.
        worker = stack.worker(concurrency=args.concurrency, polling_interval=args.polling_interval)
        ready = time.monotonic()
        cpu = {"worker": h.cpu_seconds(worker.pid), "emulator": h.cpu_seconds(stack.emulator_pid)}
        drained = wait_all_stored(queued["ids"])
        worker_seconds = drained - ready
        cpu = {
            k: h.cpu_seconds(pid) - cpu[k]
            for k, pid in (("worker", worker.pid), ("emulator", stack.emulator_pid))
        }

        direct_emulator_cpu = h.cpu_seconds(stack.emulator_pid)
        direct = direct_puts(stack.emulator, [h.png_bytes(args.size) for _ in range(n)], args.concurrency)
        direct_emulator_cpu = h.cpu_seconds(stack.emulator_pid) - direct_emulator_cpu

        print(f"\n  {'phase':<46} {'seconds':>8} {'files/s':>8}")
        print(
            f"  {'1. end to end (first POST .. all stored)':<46} {e2e_seconds:>8.2f} {n / e2e_seconds:>8.1f}"
        )
        print(f"  {'   of which POSTs, workers running':<46} {load['seconds']:>8.2f} {load['rate']:>8.1f}")
        print(f"  {'2. POST /upload only, no worker':<46} {queued['seconds']:>8.2f} {queued['rate']:>8.1f}")
        print(
            f"  {'3. worker only (ready .. all stored)':<46} {worker_seconds:>8.2f} {n / worker_seconds:>8.1f}"
        )
        print(
            f"  {f'   direct simple PUTs, {args.concurrency} threads':<46} {n / direct:>8.2f} {direct:>8.1f}"
        )
        print(
            f"\n  phase 1, POST answered until stored: median {statistics.median(waits):.2f} s, "
            f"p99 {h.percentile(waits, 99):.2f} s, max {waits[-1]:.2f} s"
        )
        lat = load["latencies"]
        print(
            f"  phase 1, POST /upload latency: p50 {h.percentile(lat, 50) * 1000:.0f} ms, "
            f"p99 {h.percentile(lat, 99) * 1000:.0f} ms"
        )
        lat = queued["latencies"]
        print(
            f"  phase 2, POST /upload latency: p50 {h.percentile(lat, 50) * 1000:.0f} ms, "
            f"p99 {h.percentile(lat, 99) * 1000:.0f} ms"
        )
        print(
            f"\n  CPU per file: phase 2 gunicorn {web_cpu / n * 1000:.1f} ms; phase 3 celery worker (main + pool) "
            f"{cpu['worker'] / n * 1000:.1f} ms, emulator {cpu['emulator'] / n * 1000:.1f} ms; "
            f"direct PUTs: emulator {direct_emulator_cpu / n * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
