"""How long an upload waits after its worker is killed mid-session, with the default settings.

    .venv/bin/python bench/worker_killed.py              # a 300 MiB file, both cases
    .venv/bin/python bench/worker_killed.py --size 600M

Two cases, each on a fresh upload to the Graph emulator:
- the pool process running the upload is killed (SIGKILL): the worker requeues its message
  (CELERY_WORKER_LOST_WAIT later), and the redelivered task takes over once the dead process's
  claim lapses (IMGBED_UPLOAD_LEASE after its keeper thread's last renewal);
- the whole worker is killed (SIGKILL to its process group, as a crash or a lost host): its
  message stays unacknowledged in the broker, and beat's reconcile (every
  IMGBED_RECONCILE_INTERVAL) sends the file to the other worker once the claim lapsed.
Printed: seconds from the kill to the next fragment Microsoft accepted (the row's quickXorHash
state moves on), and whether the upload then finished on the same session.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


def progress(pk):
    from django.db import connection

    from uploads.models import StoredFile

    connection.close_if_unusable_or_obsolete()
    return StoredFile.objects.filter(pk=pk).values_list("upload_session_hash", "status", "attempts").first()


def reads(pid, name) -> bool:
    """Whether process `pid` has a file called `name` (a staged file) open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith("/" + name):
                return True
        except OSError:
            pass
    return False


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def one_case(stack, site, path, kill):
    from uploads.models import StoredFile

    public_id, _ = h.post_file(site.url, path)
    pk = StoredFile.objects.get(public_id=public_id).pk
    before = wait(lambda: (p := progress(pk)) and p[0] and p, 120, "the first fragments")
    kill()
    killed = time.monotonic()
    wait(lambda: progress(pk)[0] != before[0], 300, "a live worker to send the next fragment")
    resumed = time.monotonic() - killed
    stack.wait_stored([public_id], timeout=600)
    row = StoredFile.objects.get(pk=pk)
    return resumed, row.attempts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="300M", help="file size, e.g. 300M or 1G (default 300M)")
    h.add_common_arguments(parser)
    args = parser.parse_args()
    size = h.parse_sizes(args.size)[0]

    with h.stack_from(args, "worker_killed") as stack:
        stack.start()
        site = stack.web("site")
        path = h.write_png(stack.tmp / "big.png", size)
        from django.conf import settings

        lease, reconcile = settings.IMGBED_UPLOAD_LEASE, settings.IMGBED_RECONCILE_INTERVAL
        print(f"{stack.describe()}; {h.human(size)} file; lease {lease} s; reconcile every {reconcile} s")

        first = stack.worker("worker-a")
        took, attempts = one_case(stack, site, path, lambda: os.kill(first.pool_pids()[0], signal.SIGKILL))
        print(f"pool process killed: next fragment {took:.1f} s after the kill; stored on attempt {attempts}")

        stack.stop(first)
        beat = h.Process(
            "beat",
            [sys.executable, "-m", "celery", "-A", "imgbed_site", "beat", f"--schedule={stack.tmp / 'beat'}"],
            stack.env(),
            stack.log_dir,
        )
        stack.processes.append(beat)
        workers = [stack.worker("worker-b"), stack.worker("worker-c")]

        def kill_the_holder():
            # The worker whose pool process has the staged file open is the one uploading it.
            from uploads.models import StoredFile

            staged = StoredFile.objects.order_by("-pk").values_list("staged_name", flat=True).first()
            (holder,) = [w for w in workers if any(reads(pid, staged) for pid in w.pool_pids())]
            os.killpg(holder.pid, signal.SIGKILL)

        took, attempts = one_case(stack, site, path, kill_the_holder)
        print(f"whole worker killed: next fragment {took:.1f} s after the kill; stored on attempt {attempts}")


if __name__ == "__main__":
    main()
