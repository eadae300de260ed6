"""A moved or renamed file follows its new id on the channel (OneDrive, S3, WebDAV, local folders).

The id changes in the database at once (library.moves); the remote item follows
in a task, so a move answers at once whatever the file's size, and a lost
database rebuilt from the channel (rescan) finds files under their ids.

Serving never breaks meanwhile: it reads the row's remote_id, which changes in
one compare-and-set only once the file is at the new path. OneDrive moves the
item itself (its id stays); the other kinds copy on the server (S3 CopyObject,
WebDAV COPY, a hard link on a local disk) and delete the old copy
IMGBED_MOVE_GRACE seconds later, so reads and redirects already under way
finish. Where the remote item cannot follow (another file already at the new
path), the file stays where it is and serves as before; failure_reason says why.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db.models import Q

from channels.backends import backend_for
from channels.errors import PermanentError, TransientError
from channels.models import Channel
from uploads.models import StoredFile
from uploads.naming import remote_path_of
from uploads.tasks import MAX_COUNTDOWN, _backoff

log = logging.getLogger(__name__)
Status = StoredFile.Status

# A file moved while it is still uploading is relocated once it is stored: asked again this
# often, for at most a day (a file still unstored then is failed or held, and stays put).
UNSTORED_WAIT = 60
UNSTORED_TRIES = 24 * 60


def follows(stored: StoredFile) -> bool:
    """Whether the file's remote path is not the one its id gives (it moved, or moves)."""
    return stored.remote_path != remote_path_of(stored.channel.root_directory, stored.public_id)


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def relocate_remote(self, file_id):
    stored = StoredFile.objects.select_related("channel").filter(pk=file_id).first()
    if stored is None or stored.status in (Status.DELETED, Status.FAILED):
        return "not stored"
    if stored.status != Status.STORED:
        if self.request.retries >= UNSTORED_TRIES:
            return "never stored"
        raise self.retry(countdown=UNSTORED_WAIT)
    target = remote_path_of(stored.channel.root_directory, stored.public_id)
    if stored.remote_path == target:
        return "in place"
    backend = backend_for(stored.channel)
    if not hasattr(backend, "relocate"):
        return "kept"  # a kind without folders: the remote path is only a name
    try:
        moved = backend.relocate(stored.remote_id, target)
    except TransientError as exc:
        raise self.retry(
            countdown=min(MAX_COUNTDOWN, exc.retry_after or _backoff(self.request.retries))
        ) from None
    except PermanentError as exc:
        if StoredFile.objects.filter(pk=file_id, remote_path=target).exists():
            return "in place"  # another delivery of this task moved it
        StoredFile.objects.filter(pk=file_id, remote_id=stored.remote_id).update(
            failure_reason=f"Kept at {stored.remote_path} on the channel, not moved to {target}: {exc}"
        )
        log.warning("file %s: kept at %s: %s", file_id, stored.remote_path, exc)
        return "kept"
    done = StoredFile.objects.filter(pk=file_id, status=Status.STORED, remote_id=stored.remote_id).update(
        remote_path=target, remote_id=moved.remote_id, failure_reason=""
    )
    if not done:
        # Deleted, or relocated by another delivery meanwhile: a copy the row does not point at
        # is nobody's. Whatever the row says now, one more pass brings the file in line with it.
        if moved.leftover is not None:
            delete_leftover.delay(stored.channel_id, moved.remote_id)
        relocate_remote.delay(file_id)
        return "changed meanwhile"
    if moved.leftover is not None:
        delete_leftover.apply_async((stored.channel_id, moved.leftover), countdown=settings.IMGBED_MOVE_GRACE)
    log.info("file %s: moved on channel %s to %s", file_id, stored.channel_id, target)
    return "moved"


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def delete_leftover(self, channel_id, remote_id):
    """Delete a copy a relocation left behind, unless a file's row points at it."""
    held = (
        StoredFile.objects.filter(channel_id=channel_id, remote_id=remote_id)
        .filter(~Q(status=Status.DELETED))
        .exists()
    )
    channel = Channel.objects.filter(pk=channel_id).first()
    if held or channel is None:
        return "kept"
    try:
        backend_for(channel).delete(remote_id)
    except TransientError as exc:
        raise self.retry(
            countdown=min(MAX_COUNTDOWN, exc.retry_after or _backoff(self.request.retries))
        ) from None
    except PermanentError as exc:
        log.warning("channel %s: could not delete the old copy %s: %s", channel_id, remote_id, exc)
        return "failed"
    return "deleted"
