"""rescan_channel: files really uploaded through the pipeline to each kind of channel (a local
folder, S3 on moto, WebDAV on WsgiDAV, OneDrive on the emulator), their records deleted, the
channel listed, the records back and the links serving the same bytes."""

import io
import socket
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.template.defaultfilters import filesizeformat

from channels.models import Channel
from channels.quickxorhash import quickxorhash_b64
from channels.s3 import backend as s3_backend
from channels.webdav.models import WebDAVChannel, WebDAVSettings
from library import moves
from tests.channels import local_channel, s3_channel
from tests.files import png
from tests.manage_support import content, upload_and_store, upload_code
from uploads.models import FormerId, StoredFile

pytestmark = pytest.mark.django_db

FILES = {
    "top.png": png(3_000, width=4, height=3),
    "2025/june/beach.png": png(40_000),
    "2025/june/notes.txt": b"plain words, not an image\n" * 20,
    "2025/z.png": png(100),
}


@pytest.fixture(autouse=True)
def text_allowed(settings):
    settings.IMGBED_ALLOWED_TYPES = ["image", "text"]


def rescan(name, *args) -> str:
    out = io.StringIO()
    call_command("rescan_channel", name, *args, stdout=out)
    return out.getvalue()


def upload_all(client) -> dict:
    """The files uploaded under their own names and folders; {public id: row as stored}."""
    upload_code()
    rows = {}
    for public_id, data in FILES.items():
        folder, _, name = public_id.rpartition("/")
        rows[public_id] = upload_and_store(client, data, name=name, folder=folder)
        assert rows[public_id].public_id == public_id
    return rows


def assert_restored(client, channel, uploaded, sha256_known=False):
    for public_id, data in FILES.items():
        row = StoredFile.objects.get(public_id=public_id)
        was = uploaded[public_id]
        assert (row.channel_id, row.status, row.size) == (channel.pk, StoredFile.Status.STORED, len(data))
        assert (row.remote_path, row.remote_id, row.folder) == (was.remote_path, was.remote_id, was.folder)
        assert row.content_type == was.content_type, public_id
        assert row.sha256 == (was.sha256 if sha256_known else "")
        served = client.get(f"/file/{public_id}")
        assert served.status_code == 200, public_id
        assert content(served) == data
    assert Channel.objects.get(pk=channel.pk).stored_bytes == sum(len(d) for d in FILES.values())


def lose_records(channel):
    StoredFile.objects.all().delete()
    Channel.objects.filter(pk=channel.pk).update(stored_bytes=0)


# A local folder.


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path / "files", name="Disk", health="connected")


def test_a_local_folder_gives_its_files_back(client, disk, tmp_path):
    uploaded = upload_all(client)
    folder = tmp_path / "files" / "imgbed"
    # What the site leaves or makes there that is no file of its own.
    (folder / "2025" / ".beach.png.1f2e3d.part").write_bytes(b"half a file")
    (folder / ".imgbed-check-0123").write_bytes(b"imgbed connection check\n")
    lose_records(disk)
    assert client.get("/file/top.png").status_code == 404

    said = rescan("Disk", "--dry-run")
    assert f"would add 2025/june/beach.png ({filesizeformat(len(FILES['2025/june/beach.png']))})" in said
    assert "Channel Disk: 6 files under imgbed; would add 4, 0 already recorded." in said
    assert "Skipped 2 hidden or temporary names" in said
    assert not StoredFile.objects.exists()

    said = rescan("Disk")
    assert "Channel Disk: 6 files under imgbed; added 4, 0 already recorded." in said
    assert f"added 2025/z.png ({filesizeformat(len(FILES['2025/z.png']))})" in said
    assert_restored(client, disk, uploaded)
    beach = StoredFile.objects.get(public_id="2025/june/beach.png")
    assert beach.original_name == "beach.png" and beach.category == "image"
    assert StoredFile.objects.get(public_id="2025/june/notes.txt").category == "text"
    # The time the channel gives the file, not the time of the rescan.
    on_disk = (folder / "2025" / "june" / "beach.png").stat().st_mtime
    assert abs(beach.created_at.timestamp() - on_disk) < 1

    again = rescan("Disk")
    assert "added 0, 4 already recorded." in again
    assert StoredFile.objects.count() == 4


def test_with_hash_the_bytes_give_sha256_type_and_size(client, disk):
    uploaded = upload_all(client)
    lose_records(disk)
    rescan("Disk", "--hash")
    assert_restored(client, disk, uploaded, sha256_known=True)
    top = StoredFile.objects.get(public_id="top.png")
    assert (top.width, top.height) == (4, 3)


def test_records_that_exist_are_left_alone(client, disk):
    uploaded = upload_all(client)
    # Moved: its record's remote path is no longer root directory / public id.
    moves.move(uploaded["2025/z.png"], "elsewhere/z.png")
    StoredFile.objects.filter(public_id="top.png").update(list_type="Block")
    StoredFile.objects.filter(public_id="2025/june/beach.png").delete()
    said = rescan("Disk")
    assert "Channel Disk: 4 files under imgbed; added 1, 3 already recorded." in said
    assert StoredFile.objects.get(public_id="top.png").list_type == "Block"
    assert not StoredFile.objects.filter(public_id="2025/z.png").exists()
    assert FormerId.objects.filter(public_id="2025/z.png").exists()
    assert content(client.get("/file/2025/june/beach.png")) == FILES["2025/june/beach.png"]


def test_an_id_held_by_another_file_or_an_old_link_is_not_taken(client, disk, tmp_path):
    upload_all(client)
    elsewhere = local_channel(tmp_path / "other", name="Other")
    for row in StoredFile.objects.filter(public_id="top.png"):
        StoredFile.objects.filter(pk=row.pk).update(channel=elsewhere, remote_path="imgbed/x/top.png")
    said = rescan("Disk")
    assert "Left alone 1 whose id belongs to another file or is an old link here (e.g. top.png)." in said
    assert StoredFile.objects.get(public_id="top.png").channel_id == elsewhere.pk


def test_names_the_site_would_not_give_are_skipped_in_words(disk, tmp_path):
    folder = tmp_path / "files" / "imgbed"
    folder.mkdir(parents=True)
    (folder / "holiday photo.png").write_bytes(png(10))
    (folder / "ok.png").write_bytes(png(10))
    said = rescan("Disk")
    assert "added 1" in said
    assert (
        "Skipped 1 whose names this site would not give a file (e.g. holiday photo.png): rename them" in said
    )
    assert list(StoredFile.objects.values_list("public_id", flat=True)) == ["ok.png"]


def test_an_unknown_channel_is_said_with_the_names_there_are(disk):
    with pytest.raises(CommandError, match=r"No channel is named 'Nope' \(channels: Disk\)\."):
        rescan("Nope")


# S3 on moto.


def test_an_s3_prefix_gives_its_objects_back_page_by_page(client, s3_server, monkeypatch):
    bucket = s3_channel(s3_server, name="Bucket", health="connected")
    uploaded = upload_all(client)
    lose_records(bucket)
    monkeypatch.setattr(s3_backend, "LIST_PAGE_SIZE", 2)  # several list_objects_v2 pages
    said = rescan("Bucket")
    assert f"Channel Bucket: 4 files under {bucket.root_directory}; added 4, 0 already recorded." in said
    assert_restored(client, bucket, uploaded)


def test_s3_credentials_refused_are_said_with_what_to_do(s3_auth_server):
    s3_channel(s3_auth_server, name="Locked", secret="not-the-secret-0123456789abcdefghijklm")
    with pytest.raises(CommandError) as refused:
        rescan("Locked")
    said = str(refused.value)
    assert said.startswith("Cannot list the files of channel Locked:")
    assert "Paste the secret access key again" in said and "then run rescan_channel again" in said
    assert "not-the-secret" not in said


# WebDAV on WsgiDAV.


def dav_channel(server, name="DAV", base_url=None):
    channel = WebDAVChannel.objects.create(
        name=name, root_directory=f"r-{uuid.uuid4().hex[:8]}", health="connected"
    )
    WebDAVSettings.objects.create(
        channel=channel, base_url=base_url or server.files_url, username=server.user, password=server.password
    )
    return channel


def test_a_webdav_folder_gives_its_files_back(client, webdav_server):
    dav = dav_channel(webdav_server)
    uploaded = upload_all(client)
    partial = webdav_server.root / "files" / dav.root_directory / "2025" / ".z.png.0a1b.uploading"
    partial.write_bytes(b"half")
    lose_records(dav)
    said = rescan("DAV")
    assert f"Channel DAV: 5 files under {dav.root_directory}; added 4, 0 already recorded." in said
    assert (
        "Skipped 1 hidden or temporary names (starting with a dot, e.g. 2025/.z.png.0a1b.uploading)" in said
    )
    assert_restored(client, dav, uploaded)


def test_an_unreachable_webdav_server_is_said_to_try_later(webdav_server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dav_channel(webdav_server, name="Away", base_url=f"http://127.0.0.1:{port}/files")
    with pytest.raises(CommandError, match="Cannot reach the WebDAV server at 127.0.0.1.*Try again later"):
        rescan("Away")


def test_a_root_folder_not_made_yet_holds_nothing_a_wrong_base_url_is_said(webdav_server):
    dav_channel(webdav_server, name="Fresh")
    assert "Channel Fresh: 0 files under r-" in rescan("Fresh")
    dav_channel(webdav_server, name="Wrong", base_url=f"{webdav_server.url}/no-such-share")
    with pytest.raises(
        CommandError, match="There is no WebDAV folder at .*/no-such-share. Check the base URL"
    ):
        rescan("Wrong")


# OneDrive on the emulator.


@pytest.fixture
def drive(channel, onedrive_settings):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    return channel


def test_a_onedrive_folder_gives_its_files_back_through_children_pages(client, drive, emulator):
    uploaded = upload_all(client)
    lose_records(drive)
    emulator.settings.children_page_size = 1  # one item a page: every folder has a next page
    emulator.clear_log()
    said = rescan("Main OneDrive")
    assert "Channel Main OneDrive: 4 files under imgbed; added 4, 0 already recorded." in said
    pages = [r for r in emulator.requests if "/children" in r.path]
    # Three folders (imgbed, 2025, 2025/june) of two items each: a first page and a next one each.
    assert len(pages) == 6 and sum("skiptoken" in r.query for r in pages) == 3
    # The emulator reports sha256Hash, as work and school drives do: it is taken.
    assert_restored(client, drive, uploaded, sha256_known=True)
    for public_id, data in FILES.items():
        row = StoredFile.objects.get(public_id=public_id)
        assert row.remote_id == uploaded[public_id].remote_id  # the drive item's id
        assert row.quickxorhash == quickxorhash_b64(data)
    assert "added 0, 4 already recorded." in rescan("Main OneDrive")


def test_a_onedrive_grant_revoked_is_said_with_what_to_do(drive, emulator):
    emulator.revoke_grants()
    emulator.expire_access_tokens()
    with pytest.raises(CommandError) as refused:
        rescan("Main OneDrive")
    assert str(refused.value).startswith("Cannot list the files of channel Main OneDrive:")
    assert "Get Token" in str(refused.value)
