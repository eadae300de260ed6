"""A local folder as a channel: the backend on a real folder, the pipeline with a real worker,
and the channel a fresh site gets so its first upload works with no cloud account."""

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from channels.backends import backend_for
from channels.errors import PermanentError
from channels.local.models import LocalChannel, LocalSettings
from channels.models import Channel
from channels.tasks import pull_quotas
from tests.channels import local_channel
from tests.files import Stream, png
from tests.worker import wait_for
from uploads.models import StoredFile, UploadCode

CODE = "local-code"


@pytest.mark.django_db
def test_store_read_ranges_and_delete(tmp_path):
    backend = backend_for(local_channel(tmp_path / "files"))
    data = png(50_000)
    stored = backend.store("imgbed/a/b/pic.png", Stream(data), len(data))
    on_disk = tmp_path / "files" / "imgbed" / "a" / "b" / "pic.png"
    assert on_disk.read_bytes() == data and stored.size == len(data)
    assert [p.name for p in on_disk.parent.iterdir()] == ["pic.png"]  # no partial file left
    assert b"".join(backend.open_range(stored.remote_id, 10, 99)) == data[10:100]
    assert b"".join(backend.open_range(stored.remote_id, 0, len(data) - 1)) == data
    assert backend.redirect_url(stored.remote_id) is None
    backend.delete(stored.remote_id)
    assert not on_disk.exists()
    backend.delete(stored.remote_id)  # already gone is success


@pytest.mark.django_db
def test_the_same_bytes_again_count_as_stored_other_bytes_are_refused(tmp_path):
    backend = backend_for(local_channel(tmp_path))
    data = png(1000)
    backend.store("x/pic.png", Stream(data), len(data))
    assert backend.store("x/pic.png", Stream(data), len(data)).size == len(data)
    other = png(1000)  # random payload: other bytes
    with pytest.raises(PermanentError, match="different file already exists"):
        backend.store("x/pic.png", Stream(other), len(other))
    assert (tmp_path / "x" / "pic.png").read_bytes() == data


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["../escape.png", "a/../../escape.png", "/etc/passwd"])
def test_paths_outside_the_folder_are_refused(tmp_path, path):
    backend = backend_for(local_channel(tmp_path / "files"))
    with pytest.raises(PermanentError, match="not a path inside"):
        backend.store(path, Stream(b"x"), 1)
    assert not (tmp_path / "escape.png").exists()


@pytest.mark.django_db
def test_check_and_quota_in_words(tmp_path):
    channel = local_channel(tmp_path, capacity=10 * 1024**2)
    from channels import probes

    said = probes.check(channel.pk)
    assert "wrote, read back and deleted a test file" in said and str(tmp_path) in said
    row = Channel.objects.get(pk=channel.pk)
    assert row.health == Channel.Health.CONNECTED
    assert (row.quota_total, row.quota_used) == (10 * 1024**2, 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_a_missing_folder_setting_is_a_clear_error(tmp_path):
    channel = LocalChannel.objects.create(name="No folder")
    with pytest.raises(PermanentError, match="has no folder"):
        backend_for(channel)


@pytest.mark.django_db(transaction=True)
def test_upload_to_a_local_channel_through_a_worker(client, tmp_path, start_worker):
    channel = local_channel(tmp_path / "files", health=Channel.Health.CONNECTED)
    code = UploadCode(label="t")
    code.set_code(CODE)
    code.save()
    start_worker(concurrency=1)
    data = png(300_000)
    response = client.post(f"/upload?authCode={CODE}", {"file": SimpleUploadedFile("pic.png", data)})
    assert response.status_code == 200, response.content
    src = json.loads(response.content)[0]["src"]
    row = wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).first(),
        what="the file to be stored",
    )
    on_disk = tmp_path / "files" / row.remote_path
    assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == row.sha256
    assert Channel.objects.get(pk=channel.pk).stored_bytes == len(data)

    served = client.get(src, HTTP_RANGE="bytes=100-199")
    assert served.status_code == 206
    assert b"".join(served.streaming_content) == data[100:200]
    assert b"".join(client.get(src).streaming_content) == data

    assert pull_quotas()["read"] == ["Disk"]
    assert Channel.objects.get(pk=channel.pk).quota_used == len(data)


@pytest.mark.django_db(transaction=True)
def test_a_new_site_gets_a_working_local_channel(client, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("default_channel")
    channel = Channel.objects.get()
    assert (channel.kind, channel.name, channel.health) == ("local", "Local disk", Channel.Health.CONNECTED)
    assert LocalSettings.objects.get(channel=channel).path == str(tmp_path.resolve() / "files")
    call_command("default_channel")  # a second run adds nothing
    assert Channel.objects.count() == 1
