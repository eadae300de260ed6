"""Celery tasks that move staged bytes to a channel and remove deleted files.

Messages carry a row id only. The row is the source of truth: a task claims
it with a compare-and-set and a lease, so two deliveries never upload at
once, and a killed worker's claim lapses for the next delivery to resume.
"""

import datetime
import logging
import random
import time

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from channels import health
from channels.backends import backend_for
from channels.errors import ChannelError, PermanentError, ReauthorizationRequired, TransientError
from channels.models import USABLE_HEALTH, Channel
from imgbed_site import runs
from imgbed_site.celery import app as _app  # noqa: F401 (the app these tasks are sent with)
from uploads import leases, staging
from uploads.channel_choice import NoChannel, choose
from uploads.models import StoredFile
from uploads.naming import remote_path_of
from uploads.receiving import Abandoned, ReceivingReader, SizeChanged, Stalled

log = logging.getLogger(__name__)
Status = StoredFile.Status

# Retries are rescheduled, not slept: the longest countdown stays far below a
# broker's visibility timeout (Redis: 1 hour), and reconcile covers the rest.
MAX_COUNTDOWN = 15 * 60


_lease = leases.lease_until


CLAIMED_FIELDS = (
    "public_id",
    "remote_path",
    "size",
    "status",
    "attempts",
    "staged_name",
    "upload_session_url",
    "upload_session_size",
    "upload_session_hash",
    "receiving",
    "channel__kind",
    "channel__onedrive_settings__cloud",
    "channel__name",
    "channel__root_directory",  # S3 and WebDAV backends read it when built: one query less per upload
    "channel__health",
    "channel__paused_until",
)


def due(now) -> Q:
    """Rows whose channel asked for no wait, or whose wait is over."""
    return Q(not_before__isnull=True) | Q(not_before__lte=now)


def claim(file_id) -> StoredFile | None:
    """Take the row for this worker, or None when it is done or another worker holds it."""
    now = timezone.now()
    claimable = (Q(status=Status.PENDING) | Q(status=Status.UPLOADING, claimed_until__lt=now)) & due(now)
    taken = StoredFile.objects.filter(claimable, pk=file_id).update(
        status=Status.UPLOADING,
        claimed_until=_lease(),
        not_before=None,
        updated_at=now,
        attempts=F("attempts") + 1,
    )
    if not taken:
        return None
    # What the task reads of the channel is only what backend_for needs (secrets come later, locked).
    stored = (
        StoredFile.objects.select_related("channel__onedrive_settings").only(*CLAIMED_FIELDS).get(pk=file_id)
    )
    if leases.enabled():
        leases.hold(stored.pk, stored.attempts)
    return stored


def held_elsewhere(file_id) -> float | None:
    """Seconds until another worker's claim on the upload lapses; None if none holds it."""
    until = (
        StoredFile.objects.filter(pk=file_id, status=Status.UPLOADING)
        .values_list("claimed_until", flat=True)
        .first()
    )
    if until is None:
        return None
    return max(0.0, (until - timezone.now()).total_seconds())


class ClaimLost(Exception):
    """Another worker took the upload over: this one's lease lapsed (a cut network, a long pause)."""


def _held(stored):
    """The row, while this worker's claim on it holds. The attempt number claim() gave it is the
    claim's fencing token: a worker whose lease lapsed and was taken over writes nothing more."""
    return StoredFile.objects.filter(pk=stored.pk, status=Status.UPLOADING, attempts=stored.attempts)


def _update_held(stored, **fields):
    if not _held(stored).update(**fields) and leases.taken_over(stored.pk, stored.attempts):
        raise ClaimLost(f"file {stored.pk}: another worker took the upload over")


class _Lease:
    """The claim on a row, extended while its upload goes on so a long one keeps it."""

    def __init__(self, stored):
        self._stored = stored
        self._beat = time.monotonic()

    def extend_if_due(self):
        if leases.enabled():  # the keeper thread renews the claim
            if leases.lost(self._stored.pk, self._stored.attempts):
                raise ClaimLost(f"file {self._stored.pk}: another worker took the upload over")
            return
        now = time.monotonic()
        if now - self._beat > leases.beat_every():
            self._beat = now
            _update_held(self._stored, claimed_until=_lease())


class _HeartbeatReader:
    """Extends the claim while bytes are read."""

    def __init__(self, fh, lease):
        self._fh = fh
        self._lease = lease

    def read(self, n=-1):
        self._lease.extend_if_due()
        return self._fh.read(n)

    def readinto(self, buffer):
        self._lease.extend_if_due()
        return self._fh.readinto(buffer)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def send_after_commit(task, file_id):
    """Enqueue `task(file_id)` once the transaction commits.

    The row is the record and the message only a nudge: when the broker cannot
    take it, reconcile_uploads sends it later, so the request that changed the
    row still succeeds (a person who got an error would upload again).
    """

    def send():
        try:
            task.delay(file_id)
        except Exception:  # kombu's OperationalError, a timeout, a refused connection...
            log.warning(
                "file %s: the broker did not take %s; reconcile will send it",
                file_id,
                task.name,
                exc_info=True,
            )

    transaction.on_commit(send)


def _backoff(attempts):
    return min(MAX_COUNTDOWN, 2 ** min(attempts, 10) + random.uniform(0, 1))  # noqa: S311


# The row is a per-file task's record (status, reason, attempts): storing each
# result too would cost a write per file and fill the results table.
# The database away for a moment (a restart): the task runs again later, and finds its row as
# it was (a claim it held lapses, then it resumes).
@shared_task(
    bind=True,
    acks_late=True,
    max_retries=None,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
)
def upload_to_channel(self, file_id):
    stored = claim(file_id)
    if stored is None:
        wait = None if self.request.is_eager else held_elsewhere(file_id)
        if wait is not None:
            # Another worker holds it; should that one be dead (its message redelivered to this
            # one), this delivery takes over as soon as the dead one's claim lapses.
            raise self.retry(countdown=wait + 1)
        return "not claimable"
    attempt = stored.attempts  # what this delivery claimed, whatever the row reads later
    try:
        return _upload(self, stored)
    finally:
        leases.drop(stored.pk, attempt)


def _upload(self, stored):
    file_id = stored.pk
    paused_until = stored.channel.paused_until
    # (Run in the caller's process, a retry runs again at once: no countdown to wait with.)
    if paused_until is not None and paused_until > timezone.now() and not self.request.is_eager:
        # Another file met the channel's throttling: this one waits too, instead of learning it alone.
        _release(
            stored,
            f"Waiting until {paused_until:%H:%M:%S} UTC: {stored.channel.name} asked to slow down.",
            not_before=paused_until,
        )
        wait = (paused_until - timezone.now()).total_seconds()
        raise self.retry(countdown=min(MAX_COUNTDOWN, wait + random.uniform(0, 1)))  # noqa: S311
    if not staging.exists(stored.staged_name):
        _fail(stored, "The staged bytes are missing, so the upload cannot be made. Upload the file again.")
        return "missing"

    def save_session(url):
        _update_held(
            stored,
            upload_session_url=url or "",
            upload_session_size=stored.size if url else None,
            upload_session_hash="",
            claimed_until=_lease(),
            updated_at=timezone.now(),
        )

    def save_progress(hash_state):
        # After each fragment: a worker that takes over reads staging from here, not from byte 0.
        _update_held(
            stored, upload_session_hash=hash_state, claimed_until=_lease(), updated_at=timezone.now()
        )

    lease = _Lease(stored)

    def open_stream(offset):
        fh = staging.open_at(stored.staged_name, offset)
        if stored.receiving:
            stall = settings.IMGBED_RECEIVE_STALL
            return _HeartbeatReader(
                ReceivingReader(fh, offset, file_id, stored.size, stall, lease.extend_if_due), lease
            )
        return _HeartbeatReader(fh, lease)

    try:
        remote = _store(stored, open_stream, save_session, save_progress)
    except ClaimLost as exc:
        # Whatever this worker sent is the other's to reuse or replace: nothing is undone here.
        log.warning("%s; this worker stops", exc)
        return "taken over"
    except Abandoned as exc:
        _abandon(stored, exc)
        return "abandoned"
    except Stalled as exc:
        # The request goes on, slowly: it sends the task again once the file is in. Should
        # it have finished meanwhile, its message found the row still claimed: send again.
        _release(stored, str(exc))
        if StoredFile.objects.filter(pk=file_id, status=Status.PENDING, receiving=False).exists():
            upload_to_channel.delay(file_id)
        return "waiting for the request"
    except PermanentError as exc:
        if not exc.channel_wide:
            _fail(stored, str(exc))
            return "failed"
        health.record_failure(stored.channel_id, exc)
        if _fail_over(stored, exc):
            return "moved"
        if isinstance(exc, ReauthorizationRequired):
            # Not a failure of this file: it waits, unretried, until staff reconnect
            # the channel; reconcile sends it again then.
            _release(stored, f"Waiting for the channel to be reconnected: {exc}")
            return "waiting for channel"
        _fail(stored, f"{exc} No other channel can take the file; retry it once one can.")
        return "failed"
    except TransientError as exc:
        health.record_failure(stored.channel_id, exc)
        countdown = min(
            MAX_COUNTDOWN, exc.retry_after if exc.retry_after is not None else _backoff(stored.attempts)
        )
        if exc.pauses_channel:
            health.pause(stored.channel_id, countdown)
        # The wait is kept on the row, not only in this retry's countdown: whatever else
        # sends the file meanwhile (the request finishing, reconcile) finds it not yet due.
        _release(stored, str(exc), not_before=timezone.now() + datetime.timedelta(seconds=countdown))
        log.info("file %s: transient failure, retry in %.0fs: %s", file_id, countdown, exc)
        raise self.retry(countdown=countdown) from None
    except ChannelError as exc:
        _fail(stored, str(exc))
        return "failed"
    if stored.channel.health != Channel.Health.CONNECTED:
        health.record_success(stored.channel_id)
    _finish(stored, remote)
    return "stored"


def _store(stored, open_stream, save_session, save_progress):
    backend = backend_for(stored.channel)
    sized_for = stored.upload_session_size
    if stored.upload_session_url and sized_for is not None and sized_for != stored.size:
        # Opened on a guessed size the file did not have: it cannot take this file.
        backend.cancel_session(stored.upload_session_url)
        save_session(None)
        stored.upload_session_url = ""

    def checkpoints(session_url):
        # Kinds whose sessions resume (OneDrive) go on from the hash of what the session
        # holds, so a resumed upload reads only the rest of the staged file.
        if not getattr(backend, "checkpoints", False):
            return {}
        return {
            "hash_state": stored.upload_session_hash if session_url else None,
            "on_progress": save_progress,
        }

    try:
        session_url = stored.upload_session_url or None
        return backend.store(
            stored.remote_path,
            open_stream,
            stored.size,
            session_url=session_url,
            on_session=save_session,
            **checkpoints(session_url),
        )
    except SizeChanged:
        # Started while the request was still receiving, on a size that proved
        # wrong: the session is cancelled; the file is complete now, so once more.
        stored.refresh_from_db()
        return backend.store(
            stored.remote_path,
            open_stream,
            stored.size,
            session_url=None,
            on_session=save_session,
            **checkpoints(None),
        )


def _fail_over(stored, exc) -> bool:
    """Move the file to the next channel that can take it; its public link stays the same."""
    try:
        target = choose(size=stored.size, exclude=[stored.channel_id])
    except NoChannel:
        return False
    note = f"Moved from {stored.channel.name} to {target.name}: {exc}"
    moved = (
        _held(stored)
        .filter(channel_id=stored.channel_id)
        .update(
            channel_id=target.pk,
            remote_path=remote_path_of(target.root_directory, stored.public_id),
            upload_session_url="",
            upload_session_size=None,
            upload_session_hash="",
            status=Status.PENDING,
            claimed_until=None,
            failure_reason=note,
            moved_note=note,
            updated_at=timezone.now(),
        )
    )
    if moved:
        log.warning("file %s: %s", stored.pk, note)
        upload_to_channel.delay(stored.pk)
    return bool(moved)


def _abandon(stored, exc):
    """The request that was bringing the file in failed: the row was never acknowledged."""
    log.info("file %s: %s", stored.pk, exc)
    gone = StoredFile.objects.filter(pk=stored.pk, receiving=True).delete()[0]
    if gone:
        staging.remove(stored.staged_name)


def _release(stored, reason, not_before=None):
    _held(stored).update(
        status=Status.PENDING,
        failure_reason=reason,
        claimed_until=None,
        not_before=not_before,
        updated_at=timezone.now(),
    )


def _fail(stored, reason):
    log.warning("file %s: upload failed: %s", stored.pk, reason)
    # The staged bytes stay: a retry from the admin starts from them.
    _held(stored).update(
        status=Status.FAILED, failure_reason=reason, claimed_until=None, updated_at=timezone.now()
    )


def _finish(stored, remote):
    if remote.size != stored.size:
        _fail(
            stored, f"The channel holds {remote.size} bytes but the file has {stored.size}. Retry the upload."
        )
        return
    with transaction.atomic():
        done = _held(stored).update(
            status=Status.STORED,
            remote_id=remote.remote_id,
            quickxorhash=remote.quickxorhash,
            upload_session_url="",
            upload_session_size=None,
            upload_session_hash="",
            failure_reason="",
            claimed_until=None,
            stored_at=timezone.now(),
            staged_name="",
            updated_at=timezone.now(),
        )
        if done:
            # The site's own count, for channels that report no quota (local, S3).
            Channel.objects.filter(pk=stored.channel_id).update(stored_bytes=F("stored_bytes") + stored.size)
            name = stored.staged_name
            transaction.on_commit(lambda: staging.remove(name))
    if not done:
        if not StoredFile.objects.filter(pk=stored.pk, status=Status.DELETED).exists():
            # Taken over by another worker (this one's lease lapsed): the item at the path is
            # the same file, which that worker stores or has stored.
            log.warning("file %s: another worker took the upload over; this one stops", stored.pk)
            return
        # Deleted while it was uploading: the delete task found no remote item yet.
        StoredFile.objects.filter(pk=stored.pk).update(remote_id=remote.remote_id)
        delete_remote.delay(stored.pk)
    log.info("file %s: stored on channel %s", stored.pk, stored.channel_id)


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def delete_remote(self, file_id):
    stored = StoredFile.objects.select_related("channel").filter(pk=file_id, status=Status.DELETED).first()
    if stored is None:
        return "not deleted"
    if stored.remote_id:
        try:
            backend_for(stored.channel).delete(stored.remote_id)
        except TransientError as exc:
            raise self.retry(
                countdown=min(MAX_COUNTDOWN, exc.retry_after or _backoff(self.request.retries))
            ) from None
        except PermanentError as exc:
            StoredFile.objects.filter(pk=file_id).update(failure_reason=f"Delete failed: {exc}")
            return "failed"
        with transaction.atomic():
            # Only the delivery that forgets the remote item counts it off.
            forgot = StoredFile.objects.filter(pk=file_id).exclude(remote_id="").update(remote_id="")
            if forgot and stored.stored_at is not None:  # counted in when it was stored
                Channel.objects.filter(pk=stored.channel_id).update(
                    stored_bytes=Greatest(F("stored_bytes") - stored.size, 0)
                )
    if stored.staged_name:
        staging.remove(stored.staged_name)
    StoredFile.objects.filter(pk=file_id).update(
        remote_id="", staged_name="", upload_session_url="", upload_session_size=None, upload_session_hash=""
    )
    return "deleted"


@shared_task(bind=True, acks_late=True)
def reconcile_uploads(self):
    """Send again what the broker lost: pending rows left alone, uploads whose worker died.

    The database is the source of truth; a flushed Redis, a lost message or a
    killed worker leaves a row here, and the claim makes a duplicate harmless.
    """
    now = timezone.now()
    quiet = now - datetime.timedelta(seconds=settings.IMGBED_RECONCILE_AFTER)
    stuck = (
        StoredFile.objects.filter(
            Q(status=Status.PENDING, updated_at__lte=quiet)
            | Q(status=Status.UPLOADING, claimed_until__lt=now)
        )
        .filter(due(now))
        .filter(channel__enabled=True, channel__health__in=USABLE_HEALTH)
        # Still arriving: the request sends its task when the file is in (or clean_staging
        # removes it, if the request died).
        .exclude(receiving=True)
        .values_list("pk", flat=True)
    )
    ids = list(stuck[:1000])
    # Deleted files whose remote item is still there: the delete's message was lost.
    undeleted = (
        StoredFile.objects.filter(status=Status.DELETED, updated_at__lte=quiet)
        .exclude(remote_id="")
        .filter(channel__enabled=True, channel__health__in=USABLE_HEALTH)
        .values_list("pk", flat=True)
    )
    deletes = list(undeleted[:1000])
    StoredFile.objects.filter(pk__in=ids + deletes).update(updated_at=now)
    for file_id in ids:
        upload_to_channel.delay(file_id)
    for file_id in deletes:
        delete_remote.delay(file_id)
    if ids or deletes:
        summary = f"Sent {len(ids)} upload(s) and {len(deletes)} delete(s) to the workers again."
    else:
        summary = "Nothing was stuck: every pending upload and delete has its message or is waiting its turn."
    runs.record(
        "uploads.tasks.reconcile_uploads",
        now,
        runs.Outcome.OK if ids or deletes else runs.Outcome.NOTHING,
        summary,
        runs.via(self.request),
    )
    return {"requeued": len(ids), "deletes_requeued": len(deletes), "summary": summary}


@shared_task(bind=True, acks_late=True)
def clean_staging(self):
    """Remove staged copies that are no longer needed, and orphans older than a day."""
    started = timezone.now()
    removed = 0
    done = StoredFile.objects.filter(status__in=[Status.STORED, Status.DELETED]).exclude(staged_name="")
    for file_id, name in done.values_list("pk", "staged_name"):
        staging.remove(name)
        StoredFile.objects.filter(pk=file_id).update(staged_name="")
        removed += 1
    # Requests that died while bringing a file in (an early start): never answered, so
    # nobody has the link. A file that grew within the hour is a slow upload, not a dead one.
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    dead = StoredFile.objects.filter(receiving=True, created_at__lt=hour_ago)
    for file_id, name in dead.values_list("pk", "staged_name"):
        if staging.modified_since(name, hour_ago):
            continue
        if StoredFile.objects.filter(pk=file_id, receiving=True).delete()[0]:
            staging.remove(name)
            removed += 1
    referenced = set(StoredFile.objects.exclude(staged_name="").values_list("staged_name", flat=True))
    removed += staging.remove_orphans(referenced, older_than=datetime.timedelta(days=1))
    summary = f"Removed {removed} staged cop{'y' if removed == 1 else 'ies'} no longer needed."
    runs.record(
        "uploads.tasks.clean_staging",
        started,
        runs.Outcome.OK if removed else runs.Outcome.NOTHING,
        summary,
        runs.via(self.request),
    )
    return {"removed": removed, "summary": summary}
