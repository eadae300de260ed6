"""Changes of a file's state that the API and the admin share."""

from django.utils import timezone

from uploads.models import StoredFile
from uploads.tasks import delete_remote, send_after_commit, upload_to_channel

Status = StoredFile.Status


def delete(stored: StoredFile) -> None:
    """The link stops working at once; a task removes the remote item and staged leftovers."""
    updated = (
        StoredFile.objects.filter(pk=stored.pk)
        .exclude(status=Status.DELETED)
        .update(status=Status.DELETED, deleted_at=timezone.now(), updated_at=timezone.now())
    )
    if updated:
        send_after_commit(delete_remote, stored.pk)


def retry(stored: StoredFile) -> bool:
    """Send a failed (or stuck pending) upload to the workers again."""
    updated = StoredFile.objects.filter(pk=stored.pk, status__in=[Status.FAILED, Status.PENDING]).update(
        status=Status.PENDING, failure_reason="", claimed_until=None, updated_at=timezone.now()
    )
    if updated:
        send_after_commit(upload_to_channel, stored.pk)
    return bool(updated)
