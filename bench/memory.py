"""Peak resident memory of the web process receiving an upload and of the
worker sending it on, per file size.

    .venv/bin/python bench/memory.py                     # 64 MiB, 256 MiB, 1 GiB
    .venv/bin/python bench/memory.py --sizes 64,256

For each size a fresh gunicorn (one sync worker) and a fresh Celery worker
(prefork, concurrency 1: the upload runs in its pool child) are started, so
each process's VmHWM (from /proc/<pid>/status) is the peak of that size
alone. RSS is also sampled every 50 ms; for the Celery worker the sampled
figure is the sum over the main process and its pool child. Goal: under
150 MiB each, flat as the file grows.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

GOAL = 150 * h.MiB


def measure(stack, size, path, fragment):
    web = stack.web(f"web-{size >> 20}m", workers=1)
    worker = stack.worker(f"worker-{size >> 20}m", concurrency=1, IMGBED_FRAGMENT_SIZE=fragment)
    web_pid = web.worker_pids()[0]
    (child_pid,) = worker.pool_pids()
    idle = {
        "web": h.proc_status(web_pid)["VmRSS"],
        "child": h.proc_status(child_pid)["VmRSS"],
        "main": h.proc_status(worker.pid)["VmRSS"],
    }
    with h.RssSampler({"web": web_pid, "worker": worker.pid}) as sampler:
        started = time.monotonic()
        public_id, post_seconds = h.post_file(web.url, path)
        stack.wait_stored([public_id], interval=0.05)
        total = time.monotonic() - started
        hwm = {
            "web": h.proc_status(web_pid)["VmHWM"],
            "child": h.proc_status(child_pid)["VmHWM"],
            "main": h.proc_status(worker.pid)["VmHWM"],
        }
    stack.stop(web)
    stack.stop(worker)
    return {
        "idle": idle,
        "hwm": hwm,
        "web_sampled": sampler.peaks["web"],
        "worker_sampled": sampler.peaks["worker"],
        "post": post_seconds,
        "total": total,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1G", help="comma separated, MiB or nG (default 64,256,1G)")
    parser.add_argument("--fragment-mib", type=float, default=10, help="fragment size in MiB (default 10)")
    h.add_common_arguments(parser)
    args = parser.parse_args()
    sizes = h.parse_sizes(args.sizes)
    fragment = int(args.fragment_mib * h.MiB)

    with h.stack_from(args, "memory") as stack:
        stack.start(IMGBED_MAX_UPLOAD_SIZE=max([h.GiB, *sizes]), IMGBED_FRAGMENT_SIZE=fragment)
        print(f"memory: sizes {', '.join(h.human(s) for s in sizes)}, fragments of {h.human(fragment)}")
        print(f"  {stack.describe()}")
        print(
            "  web: gunicorn, 1 sync worker (its worker process measured); worker: celery prefork, concurrency 1"
        )
        print("  a fresh web process and worker for each size; figures in MiB\n")
        header = (
            f"  {'file':>8}  {'web idle':>8}  {'web peak':>8}  {'wkr child idle':>14}  {'wkr child peak':>14}"
            f"  {'wkr main peak':>13}  {'wkr tree peak*':>14}  {'POST s':>6}  {'stored s':>8}"
        )
        print(header)
        results = []
        for size in sizes:
            path = h.write_png(stack.files_dir / f"file-{size}.png", size)
            r = measure(stack, size, path, fragment)
            path.unlink()
            results.append((size, r))
            print(
                f"  {h.human(size):>8}  {h.mib(r['idle']['web']):>8.1f}  {h.mib(r['hwm']['web']):>8.1f}"
                f"  {h.mib(r['idle']['child']):>14.1f}  {h.mib(r['hwm']['child']):>14.1f}"
                f"  {h.mib(r['hwm']['main']):>13.1f}  {h.mib(r['worker_sampled']):>14.1f}"
                f"  {r['post']:>6.1f}  {r['total']:>8.1f}",
                flush=True,
            )
        print("\n  peak = VmHWM of the process; * sampled every 50 ms, main + pool child RSS summed")
        web_peaks = [r["hwm"]["web"] for _, r in results]
        worker_peaks = [max(r["hwm"]["child"], r["hwm"]["main"]) for _, r in results]
        for label, peaks in (("web", web_peaks), ("worker", worker_peaks)):
            spread = max(peaks) - min(peaks)
            verdict = "meets" if max(peaks) < GOAL else "misses"
            print(
                f"  {label}: highest peak {h.mib(max(peaks)):.1f} MiB ({verdict} < {h.mib(GOAL):.0f} MiB), "
                f"spread across sizes {h.mib(spread):.1f} MiB"
            )


if __name__ == "__main__":
    main()
