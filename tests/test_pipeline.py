"""The whole pipeline: POST /upload, a real Celery worker, the emulator over HTTPS, and /file/<id>."""

import hashlib
import json
import time
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from channels.quickxorhash import quickxorhash_b64
from tests.files import png
from tests.fragments import assert_disjoint, fragments
from tests.worker import wait_for
from uploads.models import StoredFile
from uploads.tasks import upload_to_channel

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "pipeline-code"
FRAGMENT = 327680 * 4  # 1.25 MiB: many fragments from a 25 MiB file


@pytest.fixture
def setup(channel, onedrive_settings):
    from uploads.models import UploadCode

    channel.health = Channel.Health.CONNECTED
    channel.save()
    code = UploadCode(label="t")
    code.set_code(CODE)
    code.save()
    return channel


def upload(client, data, name="pic.png"):
    response = client.post(f"/upload?authCode={CODE}", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200, response.content
    return json.loads(response.content)[0]["src"]


def body(response):
    assert response.status_code in (200, 206), response.status_code
    return b"".join(response.streaming_content)


def stored(src, timeout=120):
    public_id = src.removeprefix("/file/")

    def done():
        row = StoredFile.objects.get(public_id=public_id)
        assert row.status != StoredFile.Status.FAILED, row.failure_reason
        return row if row.status == StoredFile.Status.STORED else None

    return wait_for(done, timeout=timeout, what=f"{public_id} to be stored")


def test_small_image_by_simple_put(client, setup, emulator, start_worker):
    data = png(100_000)
    src = upload(client, data)
    assert body(client.get(src)) == data  # before the worker has it: from staging
    start_worker()
    row = stored(src)
    assert body(client.get(src)) == data  # after: from OneDrive, proxied
    files = emulator.files()
    assert len(files) == 1
    assert files[0].path.endswith(f"imgbed/{row.public_id}")
    assert files[0].quickxorhash == quickxorhash_b64(data) == row.quickxorhash
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == row.sha256 == hashlib.sha256(data).hexdigest()
    assert row.staged_name == "" and row.upload_session_url == ""
    puts = [r for r in emulator.requests if r.method == "PUT" and r.kind == "graph"]
    assert len(puts) == 1 and "conflictBehavior" in puts[0].query


def test_25_mib_by_upload_session(client, setup, emulator, start_worker, settings):
    data = png(25 * 1024 * 1024)
    src = upload(client, data)
    start_worker(IMGBED_FRAGMENT_SIZE=FRAGMENT)
    row = stored(src)
    assert len(emulator.files()) == 1
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data)
    ranges = fragments(emulator)
    assert_disjoint(ranges, len(data))
    assert all((end - start + 1) % 327680 == 0 for start, end in ranges[:-1])
    assert not any(r.authorization for r in emulator.requests if r.kind == "upload_url")
    assert body(client.get(src)) == data
    # Ranges from the stored copy, through the proxy.
    part = client.get(src, HTTP_RANGE="bytes=-500")
    assert part.status_code == 206 and body(part) == data[-500:]
    assert row.size == len(data)


def test_task_delivered_twice_uploads_once(client, setup, emulator, start_worker):
    data = png(3 * 1024 * 1024)
    src = upload(client, data)
    row = StoredFile.objects.get()
    upload_to_channel.delay(row.pk)  # a second delivery of the same job
    start_worker(concurrency=2)
    stored(src)
    time.sleep(1)  # let the second delivery finish too
    assert len(emulator.files()) == 1
    assert len([r for r in emulator.requests if r.method == "PUT" and r.kind == "graph"]) == 1


def test_redelivered_mid_session_resumes(client, setup, emulator, start_worker):
    data = png(25 * 1024 * 1024)
    src = upload(client, data)
    row = StoredFile.objects.get()
    emulator.faults.latency = 0.3  # slow enough to kill the worker mid-session
    first = start_worker(concurrency=1, IMGBED_FRAGMENT_SIZE=FRAGMENT, IMGBED_UPLOAD_LEASE=2)
    wait_for(lambda: len(fragments(emulator)) >= 3, what="three fragments")
    first.kill()
    emulator.faults.latency = 0
    row.refresh_from_db()
    assert row.status == StoredFile.Status.UPLOADING and row.upload_session_url
    time.sleep(2.5)  # the dead worker's claim lapses
    upload_to_channel.delay(row.pk)  # what redelivery (or reconcile) does
    start_worker(concurrency=1, IMGBED_FRAGMENT_SIZE=FRAGMENT)
    stored(src)
    assert_disjoint(fragments(emulator), len(data))
    assert len([r for r in emulator.requests if r.path.endswith(":/createUploadSession")]) == 1
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data)


def test_session_opened_for_another_size_is_cancelled_not_resumed(client, setup, emulator, start_worker):
    """A session begun on a guessed size (an early start) cannot take the real file."""
    data = png(25 * 1024 * 1024)
    src = upload(client, data)
    row = StoredFile.objects.get()
    emulator.faults.latency = 0.3
    first = start_worker(concurrency=1, IMGBED_FRAGMENT_SIZE=FRAGMENT, IMGBED_UPLOAD_LEASE=2)
    wait_for(lambda: len(fragments(emulator)) >= 2, what="two fragments")
    first.kill()
    emulator.faults.latency = 0
    row.refresh_from_db()
    assert row.upload_session_url and row.upload_session_size == len(data)
    old_session = row.upload_session_url
    StoredFile.objects.filter(pk=row.pk).update(upload_session_size=len(data) + 4096)
    time.sleep(2.5)  # the dead worker's claim lapses
    upload_to_channel.delay(row.pk)
    start_worker(concurrency=1, IMGBED_FRAGMENT_SIZE=FRAGMENT)
    stored(src)
    assert len([r for r in emulator.requests if r.path.endswith(":/createUploadSession")]) == 2
    cancelled = [r for r in emulator.requests if r.kind == "upload_url" and r.method == "DELETE"]
    assert [r.path for r in cancelled] == [urlsplit(old_session).path]
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data)


def test_500s_mid_session_are_retried_without_resending_a_byte(client, setup, emulator, start_worker):
    data = png(8 * 1024 * 1024)
    src = upload(client, data)
    # The first three fragment requests meet a 500 (no Retry-After: backed off, then sent again).
    emulator.faults.inject("upload_url", status=500, retry_after=None, count=3)
    start_worker(concurrency=1, IMGBED_FRAGMENT_SIZE=FRAGMENT)
    row = stored(src)
    failed = [r for r in emulator.requests if r.kind == "upload_url" and r.status == 500]
    assert len(failed) == 3
    assert_disjoint(fragments(emulator), len(data))
    assert len(emulator.files()) == 1 and emulator.files()[0].quickxorhash == quickxorhash_b64(data)
    assert row.failure_reason == "" and body(client.get(src)) == data


def test_retry_after_is_honoured(client, setup, emulator, start_worker):
    data = png(50_000)
    emulator.faults.inject("PUT", path_regex=r"/content", status=429, retry_after=2, count=1)
    src = upload(client, data)
    start_worker()
    stored(src)
    puts = [r for r in emulator.requests if r.method == "PUT" and r.kind == "graph"]
    assert [r.status for r in puts] == [429, 201]
    assert puts[1].monotonic - puts[0].monotonic >= 2.0


def test_expired_access_token_mid_upload_is_refreshed_once(client, setup, emulator, start_worker):
    data = png(6 * 1024 * 1024)
    src = upload(client, data)
    redemptions = emulator.token_redemptions
    emulator.faults.inject("graph", path_regex=r"createUploadSession", status=401, count=1)
    start_worker(IMGBED_FRAGMENT_SIZE=FRAGMENT)
    stored(src)
    setup.refresh_from_db()
    # One redemption for the first access token, one after the 401; the rotated token is stored.
    assert emulator.token_redemptions == redemptions + 2
    assert emulator.valid_refresh_tokens == 1
    assert setup.health == Channel.Health.CONNECTED


def test_delete_removes_the_remote_copy(client, setup, emulator, start_worker):
    from uploads.models import ApiToken

    data = png(20_000)
    src = upload(client, data)
    start_worker()
    row = stored(src)
    assert len(emulator.files()) == 1
    token_row = ApiToken(name="cleaner", can_delete=True)
    token = token_row.issue()
    token_row.save()
    response = client.delete(f"/api/manage/delete/{row.public_id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert client.get(src).status_code == 404  # at once
    wait_for(lambda: not emulator.files(), what="the remote item to be deleted")
    wait_for(
        lambda: StoredFile.objects.filter(pk=row.pk, status=StoredFile.Status.DELETED, remote_id="").exists(),
        what="the row to record the deletion",
    )


def test_full_drive_fails_with_a_reason_keeps_the_bytes_and_retries_from_the_admin(
    client, admin_client, setup, emulator, start_worker
):
    data = png(5 * 1024 * 1024)
    src = upload(client, data)
    emulator.set_drive_full(True)
    start_worker(IMGBED_FRAGMENT_SIZE=FRAGMENT)
    public_id = src.removeprefix("/file/")
    row = wait_for(
        lambda: StoredFile.objects.filter(public_id=public_id, status=StoredFile.Status.FAILED).first(),
        what="the upload to fail",
    )
    assert "full" in row.failure_reason
    assert body(client.get(src)) == data  # nothing lost: still served from staging
    assert not emulator.upload_sessions()  # the abandoned session was cancelled

    emulator.set_drive_full(False)
    response = admin_client.post(
        "/admin/uploads/storedfile/", {"action": "retry_uploads", "_selected_action": [row.pk]}
    )
    assert response.status_code == 302
    stored(src)
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data)
