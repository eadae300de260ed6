"""Keeping a worker's claims on the uploads it runs alive, from a thread of their own.

A claim (uploads.tasks.claim) lasts IMGBED_UPLOAD_LEASE seconds unless renewed.
In a worker process a keeper thread renews every claim the process holds each
third of the lease, whatever the upload is doing: a fragment that takes a
minute to send does not let the claim lapse, while a worker that is killed, or
whose host is cut off, stops renewing and its uploads are taken over once the
short lease lapses (redelivery or reconcile).

A renewal that finds the claim gone (another worker took the row over after
this one's lease lapsed) marks it lost; the upload stops at its next read or
checkpoint (ClaimLost), and its later writes are refused anyway (the claim's
attempt number fences them).

Outside a worker (tasks run in the calling process, as tests and `manage.py`
commands may do) there is no keeper: the upload renews its claim itself as it
reads, as before.
"""

import datetime
import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from uploads.models import StoredFile

log = logging.getLogger(__name__)

_enabled = False
_lock = threading.Lock()
_held: dict[int, int] = {}  # file id -> the attempt number of this process's claim
_lost: set[tuple[int, int]] = set()  # (file id, attempt) taken over
_thread: threading.Thread | None = None


def beat_every() -> float:
    # Several renewals per lease, however short it is configured.
    return min(10.0, settings.IMGBED_UPLOAD_LEASE / 3)


def lease_until():
    return timezone.now() + datetime.timedelta(seconds=settings.IMGBED_UPLOAD_LEASE)


def enable():
    """Called when a worker starts: its processes keep their claims from a thread."""
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled


def hold(file_id: int, attempts: int):
    global _thread
    with _lock:
        # A newer attempt of the same file in this process (threads pool: a stale attempt may
        # still be running beside it) replaces the older one, which is fenced anyway.
        _held[file_id] = attempts
        if _thread is None or not _thread.is_alive():  # none yet in this (forked) process
            _thread = threading.Thread(target=_run, name="imgbed-lease-keeper", daemon=True)
            _thread.start()


def drop(file_id: int, attempts: int):
    """The attempt is over. Only its own entry goes: a newer attempt of the file that this
    process (another thread) holds keeps being renewed."""
    with _lock:
        if _held.get(file_id) == attempts:
            del _held[file_id]
        _lost.discard((file_id, attempts))


def lost(file_id: int, attempts: int) -> bool:
    return (file_id, attempts) in _lost


def renew():
    """Extend every claim this process holds; mark those another worker took over."""
    with _lock:
        held = list(_held.items())
    for file_id, attempts in held:
        renewed = StoredFile.objects.filter(
            pk=file_id, status=StoredFile.Status.UPLOADING, attempts=attempts
        ).update(claimed_until=lease_until())
        if not renewed and taken_over(file_id, attempts):
            with _lock:
                if _held.get(file_id) == attempts:
                    _lost.add((file_id, attempts))


def taken_over(file_id: int, attempts: int) -> bool:
    """Whether another worker claimed the upload since (it holds it, or has stored or failed it
    already). A file deleted or released meanwhile is not: the upload's own checks deal with
    those (and cancel its session)."""
    row = StoredFile.objects.filter(pk=file_id).values_list("attempts", flat=True).first()
    return row is not None and row != attempts


def _run():
    stop = threading.Event()
    while not stop.wait(beat_every()):
        try:
            close_old_connections()
            renew()
        except Exception:  # the database away for a moment: the next beat tries again
            log.warning("could not renew upload claims; will try again", exc_info=True)
