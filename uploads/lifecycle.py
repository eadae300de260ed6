"""Changes of a file's state that the API and the admin share."""

from django.db import transaction
from django.utils import timezone

from uploads.models import StoredFile
from uploads.tasks import delete_remote, upload_to_channel

Status = StoredFile.Status


def delete(stored: StoredFile) -> None:
    """The link stops working at once; a task removes the remote item and staged leftovers."""
    updated = (
        StoredFile.objects.filter(pk=stored.pk)
        .exclude(status=Status.DELETED)
        .update(status=Status.DELETED, deleted_at=timezone.now(), updated_at=timezone.now())
    )
    if updated:
        transaction.on_commit(lambda: delete_remote.delay(stored.pk))


def retry(stored: StoredFile) -> bool:
    """Send a failed (or stuck pending) upload to the workers again."""
    updated = StoredFile.objects.filter(pk=stored.pk, status__in=[Status.FAILED, Status.PENDING]).update(
        status=Status.PENDING, failure_reason="", claimed_until=None, updated_at=timezone.now()
    )
    if updated:
        transaction.on_commit(lambda: upload_to_channel.delay(stored.pk))
    return bool(updated)
