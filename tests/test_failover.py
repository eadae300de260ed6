"""A channel that fails for good hands its files to the next one: a real worker, the emulator,
and a local channel as the fallback. Links never change."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from channels.onedrive.models import OneDriveSettings
from tests.channels import local_channel, s3_channel
from tests.files import png
from tests.worker import wait_for
from uploads.models import StoredFile, UploadCode

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "failover-code"


@pytest.fixture(params=["local", "s3"])
def two_channels(request, channel, onedrive_settings, tmp_path):
    """The OneDrive channel first, then a fallback: a local folder, or a bucket on the loopback S3 server."""
    channel.health = Channel.Health.CONNECTED
    channel.priority = 1
    channel.save()
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        fallback = s3_channel(server, name="Fallback bucket", priority=2, health=Channel.Health.CONNECTED)
    else:
        fallback = local_channel(tmp_path / "fallback", name="Fallback disk", priority=2)
        fallback.health = Channel.Health.CONNECTED
        fallback.save()
    code = UploadCode(label="t")
    code.set_code(CODE)
    code.save()
    return channel, fallback


def upload(client, data, name):
    response = client.post(f"/upload?authCode={CODE}", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200, response.content
    return json.loads(response.content)[0]["src"]


def test_revoked_grant_moves_queued_files_to_the_next_channel(client, two_channels, emulator, start_worker):
    onedrive, fallback = two_channels
    files = {f"pic{n}.png": png(20_000 + n) for n in range(5)}
    links = {name: upload(client, data, name) for name, data in files.items()}
    assert set(StoredFile.objects.values_list("channel_id", flat=True)) == {onedrive.pk}
    emulator.revoke_grants()
    OneDriveSettings.objects.filter(channel=onedrive).update(access_token="", access_token_expires_at=None)

    start_worker(concurrency=2)
    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == len(files),
        what="every file to be stored",
    )
    for row in StoredFile.objects.all():
        assert row.channel_id == fallback.pk
        assert f"Moved from Main OneDrive to {fallback.name}" in row.moved_note
        assert "Get Token" in row.moved_note
    assert emulator.files() == []
    assert Channel.objects.get(pk=onedrive.pk).health == Channel.Health.NEEDS_REAUTH
    for name, src in links.items():
        response = client.get(src)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == files[name]


def test_a_full_drive_with_nowhere_else_to_go_fails_in_words(client, two_channels, emulator, start_worker):
    onedrive, fallback = two_channels
    Channel.objects.filter(pk=fallback.pk).update(enabled=False)
    emulator.set_drive_full(True)
    upload(client, png(20_000), "big.png")
    start_worker(concurrency=1)
    row = wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.FAILED).first(), what="the failure"
    )
    assert "full" in row.failure_reason and "No other channel can take the file" in row.failure_reason
    assert row.channel_id == onedrive.pk and row.moved_note == ""
