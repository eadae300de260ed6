"""A worker killed with SIGKILL mid-session: the upload resumes on the session, within a lease.

The dead worker's claim lapses IMGBED_UPLOAD_LEASE seconds after its last renewal (its keeper
thread died with it); then its redelivered message (a pool process killed: Celery requeues the
message) or reconcile (the whole worker gone) hands the file to a live worker, which resumes
the session where it stopped: no byte range is sent twice, one copy, the right hash. The lease
here is short to keep the test quick; bench/worker_killed.py measures the defaults.
"""

import os
import signal
import time

import pytest

from channels.quickxorhash import quickxorhash_b64
from tests.files import png
from tests.fragments import assert_disjoint, fragments
from tests.test_pipeline import (
    FRAGMENT,
    body,
    setup,  # noqa: F401 (a fixture)
    stored,
    upload,
)
from tests.worker import wait_for
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 4


def pool_children(worker) -> list[int]:
    with open(f"/proc/{worker.process.pid}/task/{worker.process.pid}/children") as fh:
        return [int(pid) for pid in fh.read().split()]


def resumed_after(emulator, killed_at) -> float:
    """Seconds from the kill to the first fragment a live worker sent."""
    first = wait_for(
        lambda: next(
            (
                r.monotonic
                for r in emulator.requests
                if r.kind == "upload_url" and r.monotonic > killed_at + 0.5
            ),
            None,
        ),
        timeout=60,
        what="a live worker to resume the session",
    )
    return first - killed_at


def check_one_copy(client, emulator, src, data):
    row = stored(src)
    assert_disjoint(fragments(emulator), len(data))
    assert len([r for r in emulator.requests if r.path.endswith(":/createUploadSession")]) == 1
    assert len(emulator.files()) == 1 and emulator.files()[0].quickxorhash == quickxorhash_b64(data)
    assert body(client.get(src)) == data
    return row


def test_a_killed_pool_process_upload_resumes_once_its_claim_lapses(client, setup, emulator, start_worker):  # noqa: F811
    data = png(12 * 1024 * 1024)
    emulator.faults.latency = 0.3  # slow enough to kill mid-session
    # A prefork pool (CELERY_WORKER_POOL=prefork; the default pool's threads die with the worker,
    # the next test's case): the upload runs in a child process of the worker.
    worker = start_worker(
        concurrency=1, IMGBED_FRAGMENT_SIZE=FRAGMENT, IMGBED_UPLOAD_LEASE=LEASE, CELERY_WORKER_POOL="prefork"
    )
    src = upload(client, data)
    wait_for(lambda: len(fragments(emulator)) >= 2, what="two fragments")
    (child,) = pool_children(worker)
    os.kill(child, signal.SIGKILL)
    killed_at = time.monotonic()
    emulator.faults.latency = 0

    took = resumed_after(emulator, killed_at)
    row = check_one_copy(client, emulator, src, data)
    # The claim lapsed (LEASE after the last renewal), then the requeued message took over.
    assert took <= LEASE + 5, took
    assert row.attempts == 2
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()


def test_a_killed_worker_upload_is_taken_by_another_through_reconcile(
    client,
    setup,  # noqa: F811
    emulator,
    start_worker,
    start_beat,
):
    data = png(12 * 1024 * 1024)
    emulator.faults.latency = 0.3
    workers = [
        start_worker(concurrency=1, IMGBED_FRAGMENT_SIZE=FRAGMENT, IMGBED_UPLOAD_LEASE=LEASE)
        for _ in range(2)
    ]
    start_beat(IMGBED_RECONCILE_INTERVAL=2, IMGBED_UPLOAD_LEASE=LEASE)
    src = upload(client, data)
    wait_for(lambda: len(fragments(emulator)) >= 2, what="two fragments")
    (holder,) = [w for w in workers if "upload_to_channel[" in w.log()]
    holder.kill()  # the whole worker, as a crash or a lost host: its message stays unacknowledged
    killed_at = time.monotonic()
    emulator.faults.latency = 0
    assert StoredFile.objects.get().status == StoredFile.Status.UPLOADING

    took = resumed_after(emulator, killed_at)
    check_one_copy(client, emulator, src, data)
    # The claim lapsed, then the next reconcile (every 2 s here) sent the file to the live worker.
    assert took <= LEASE + 2 + 3, took
