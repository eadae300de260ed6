"""A worker whose claim lapsed and was taken over writes nothing more (the attempt number fences it)."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from channels.backends import RemoteFile
from tests.channels import local_channel
from tests.files import png
from tests.manage_support import CODE, upload_code
from uploads import leases, tasks
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db
Status = StoredFile.Status


@pytest.fixture
def row(client, tmp_path):
    upload_code()
    local_channel(tmp_path / "files", name="Disk", health="connected")
    data = png(6_000)
    response = client.post(f"/upload?authCode={CODE}", {"file": SimpleUploadedFile("p.png", data)})
    assert response.status_code == 200
    return StoredFile.objects.get()


def take_over(stored):
    """Another worker claims the row after the first one's lease lapsed."""
    StoredFile.objects.filter(pk=stored.pk).update(
        claimed_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    other = tasks.claim(stored.pk)
    assert other is not None and other.attempts == stored.attempts + 1
    return other


def test_the_first_worker_cannot_finish_fail_or_release_a_row_taken_over(row):
    first = tasks.claim(row.pk)
    second = take_over(first)

    tasks._finish(first, RemoteFile(remote_id="imgbed/p.png", size=first.size))
    tasks._fail(first, "the first worker failed")
    tasks._release(first, "the first worker let go")

    after = StoredFile.objects.get(pk=row.pk)
    assert (after.status, after.attempts, after.failure_reason) == (Status.UPLOADING, second.attempts, "")
    assert after.remote_id == ""
    # The one that holds it finishes it.
    tasks._finish(second, RemoteFile(remote_id="imgbed/p.png", size=second.size))
    assert StoredFile.objects.get(pk=row.pk).status == Status.STORED


def test_the_first_worker_stops_at_its_next_renewal(row, settings):
    settings.IMGBED_UPLOAD_LEASE = 0  # renew at every read
    first = tasks.claim(row.pk)
    take_over(first)
    with pytest.raises(tasks.ClaimLost):
        tasks._Lease(first).extend_if_due()


def test_the_keeper_renews_held_claims_and_marks_those_taken_over(row, monkeypatch):
    first = tasks.claim(row.pk)
    StoredFile.objects.filter(pk=row.pk).update(claimed_until=timezone.now())
    monkeypatch.setattr(leases, "_held", {first.pk: first.attempts})
    monkeypatch.setattr(leases, "_lost", set())

    leases.renew()
    renewed = StoredFile.objects.get(pk=row.pk).claimed_until
    assert renewed > timezone.now() + datetime.timedelta(seconds=20)  # the lease, 30 s by default
    assert not leases.lost(first.pk, first.attempts)

    take_over(first)
    leases.renew()
    assert leases.lost(first.pk, first.attempts)


def test_a_file_deleted_while_uploading_is_not_taken_for_a_take_over(row, monkeypatch):
    first = tasks.claim(row.pk)
    monkeypatch.setattr(leases, "_held", {first.pk: first.attempts})
    monkeypatch.setattr(leases, "_lost", set())
    StoredFile.objects.filter(pk=row.pk).update(status=Status.DELETED)
    leases.renew()
    # The upload's own checks see the deletion (and cancel its session); the keeper says nothing.
    assert not leases.lost(first.pk, first.attempts)


def test_a_stale_attempt_ending_in_the_same_process_leaves_the_newer_one_renewed(row, monkeypatch):
    """Threads pool: the attempt taken over and the one that took it over can run side by side in
    one worker; the stale one ending must not stop the keeper renewing the newer one."""
    first = tasks.claim(row.pk)
    monkeypatch.setattr(leases, "_held", {})
    monkeypatch.setattr(leases, "_lost", set())
    monkeypatch.setattr(leases, "_thread", None)
    monkeypatch.setattr(leases.threading, "Thread", _NoThread)
    leases.hold(first.pk, first.attempts)
    second = take_over(first)
    leases.hold(second.pk, second.attempts)
    leases.drop(first.pk, first.attempts)  # the stale attempt's ClaimLost, then its finally

    StoredFile.objects.filter(pk=row.pk).update(claimed_until=timezone.now())
    leases.renew()
    assert StoredFile.objects.get(pk=row.pk).claimed_until > timezone.now() + datetime.timedelta(seconds=20)
    assert not leases.lost(second.pk, second.attempts)


class _NoThread:
    """The keeper's thread, not started: the test calls renew() itself."""

    def __init__(self, *args, **kwargs):
        pass

    def start(self):
        pass

    def is_alive(self):
        return True
