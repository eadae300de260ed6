"""A moved file's channel copy follows its new id, on every kind, and both links serve throughout."""

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from channels.backends import backend_for
from channels.errors import PermanentError
from channels.models import Channel
from channels.webdav.models import WebDAVChannel, WebDAVSettings
from tests.channels import local_channel, s3_channel
from tests.files import Stream, png
from tests.manage_support import CODE, bearer, content, token, upload_and_store, upload_code
from tests.worker import wait_for
from uploads.models import StoredFile
from uploads.relocation import UNSTORED_TRIES, delete_leftover, relocate_remote
from uploads.tasks import upload_to_channel

KINDS = ["local", "onedrive", "s3", "webdav"]


@pytest.fixture(params=KINDS)
def kind_channel(request, tmp_path):
    """One connected channel of each kind; uploads go there (it is the only one)."""
    kind = request.param
    upload_code()
    if kind == "local":
        channel = local_channel(tmp_path / "files", name="Disk")
    elif kind == "onedrive":
        channel = request.getfixturevalue("channel")
    elif kind == "s3":
        channel = s3_channel(request.getfixturevalue("s3_server"))
    else:
        server = request.getfixturevalue("webdav_server")
        channel = WebDAVChannel.objects.create(name="DAV", root_directory=f"r-{uuid.uuid4().hex[:8]}")
        WebDAVSettings.objects.create(
            channel=channel, base_url=server.files_url, username=server.user, password=server.password
        )
    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.CONNECTED)
    return Channel.objects.get(pk=channel.pk)


@pytest.fixture
def manage(client):
    headers = bearer(token("manage"))
    return lambda path: client.post(path, **headers)


def at(channel, path, size) -> bytes | None:
    """The bytes the channel holds at `path` (by path, whatever the kind keys items by); None if nothing."""
    backend = backend_for(channel)
    if channel.kind == "onedrive":
        try:
            path = backend.item_at(path)["id"]
        except PermanentError:
            return None
    try:
        return b"".join(backend.open_range(path, 0, size - 1))
    except PermanentError:
        return None


def served(client, link) -> bytes:
    response = client.get(link)
    assert response.status_code == 200, (link, response.status_code)
    return content(response)


@pytest.mark.django_db
def test_a_moved_file_follows_on_the_channel_and_both_links_serve_throughout(client, kind_channel, manage):
    data = png(30_000)
    stored = upload_and_store(client, data, folder="inbox")
    root = kind_channel.root_directory
    assert at(kind_channel, f"{root}/inbox/pic.png", len(data)) == data

    assert manage("/api/manage/move/inbox/pic.png?dist=trips/2026").status_code == 200
    # Before the task: the row still says where the bytes are, and both links serve them.
    row = StoredFile.objects.get(pk=stored.pk)
    assert row.remote_path == f"{root}/inbox/pic.png"
    assert client.get("/file/inbox/pic.png")["Location"] == "/file/trips/2026/pic.png"
    assert served(client, "/file/trips/2026/pic.png") == data
    # A download begun before the move on the channel finishes after it.
    reading = client.get("/file/trips/2026/pic.png")
    chunks = iter(reading.streaming_content)
    first = next(chunks)

    assert relocate_remote.apply(args=[stored.pk]).get() == "moved"

    row = StoredFile.objects.get(pk=stored.pk)
    assert row.remote_path == f"{root}/trips/2026/pic.png"
    assert row.failure_reason == ""
    assert at(kind_channel, f"{root}/trips/2026/pic.png", len(data)) == data
    assert first + b"".join(chunks) == data
    assert served(client, "/file/trips/2026/pic.png") == data
    assert client.get("/file/inbox/pic.png").status_code == 301
    ranged = client.get("/file/trips/2026/pic.png", HTTP_RANGE="bytes=100-199")
    assert ranged.status_code == 206 and content(ranged) == data[100:200]

    if kind_channel.kind == "onedrive":
        # The item itself moved (Graph keeps its id): nothing is left at the old path.
        assert row.remote_id == stored.remote_id
        assert at(kind_channel, f"{root}/inbox/pic.png", len(data)) is None
    else:
        # The old copy stays for the grace period, then goes; the file serves from the new one.
        assert at(kind_channel, f"{root}/inbox/pic.png", len(data)) == data
        assert delete_leftover.apply(args=[kind_channel.pk, f"{root}/inbox/pic.png"]).get() == "deleted"
        assert at(kind_channel, f"{root}/inbox/pic.png", len(data)) is None
        assert served(client, "/file/trips/2026/pic.png") == data
    # A second delivery of the task finds it in place.
    assert relocate_remote.apply(args=[stored.pk]).get() == "in place"
    assert Channel.objects.get(pk=kind_channel.pk).stored_bytes in (0, len(data))  # never counted twice


@pytest.mark.django_db
def test_a_path_taken_on_the_channel_keeps_the_file_where_it_is_and_says_why(client, kind_channel, manage):
    data, stranger = png(10_000), png(12_000)
    stored = upload_and_store(client, data)
    root = kind_channel.root_directory
    # Something this site did not store sits where the file would go.
    backend_for(kind_channel).store(
        f"{root}/elsewhere/pic.png",
        Stream(stranger),
        len(stranger),
        session_url=None,
        on_session=lambda u: None,
    )
    assert manage("/api/manage/move/pic.png?dist=elsewhere").status_code == 200

    assert relocate_remote.apply(args=[stored.pk]).get() == "kept"

    row = StoredFile.objects.get(pk=stored.pk)
    assert row.remote_path == f"{root}/pic.png"
    assert f"Kept at {root}/pic.png" in row.failure_reason and "elsewhere/pic.png" in row.failure_reason
    assert served(client, "/file/elsewhere/pic.png") == data
    assert at(kind_channel, f"{root}/elsewhere/pic.png", len(stranger)) == stranger  # never replaced


@pytest.mark.django_db
def test_a_folder_move_moves_every_file_on_the_channel(client, tmp_path, manage):
    upload_code()
    disk = local_channel(tmp_path / "files", name="Disk", health="connected")
    files = {name: png(5_000 + i) for i, name in enumerate(["a.png", "b.png"])}
    rows = [upload_and_store(client, data, name=name, folder="album/2025") for name, data in files.items()]
    answer = manage("/api/manage/move/album?dist=archive&folder=true").json()
    assert sorted(p["newFileId"] for p in answer["processed"]) == [
        "archive/album/2025/a.png",
        "archive/album/2025/b.png",
    ]

    for row in rows:
        assert relocate_remote.apply(args=[row.pk]).get() == "moved"
    for name, data in files.items():
        on_disk = tmp_path / "files" / disk.root_directory / "archive" / "album" / "2025" / name
        assert on_disk.read_bytes() == data
        assert served(client, f"/file/archive/album/2025/{name}") == data
        assert client.get(f"/file/album/2025/{name}")["Location"] == f"/file/archive/album/2025/{name}"


@pytest.mark.django_db
def test_a_file_moved_while_uploading_follows_once_stored(client, tmp_path, manage):
    upload_code()
    disk = local_channel(tmp_path / "files", name="Disk", health="connected")
    data = png(8_000)
    response = client.post(
        f"/upload?authCode={CODE}&uploadNameType=origin", {"file": SimpleUploadedFile("p.png", data)}
    )
    row = StoredFile.objects.get(public_id=response.json()[0]["src"].removeprefix("/file/"))
    assert manage("/api/manage/move/p.png?dist=later").status_code == 200
    # Not stored yet: the task waits for the upload (asking again later, for a day at most)
    # instead of moving what is not there.
    assert relocate_remote.apply(args=[row.pk], retries=UNSTORED_TRIES).get() == "never stored"
    assert StoredFile.objects.get(pk=row.pk).remote_path == f"{disk.root_directory}/p.png"

    assert upload_to_channel.apply(args=[row.pk]).get() == "stored"
    assert StoredFile.objects.get(pk=row.pk).remote_path == f"{disk.root_directory}/p.png"
    assert relocate_remote.apply(args=[row.pk]).get() == "moved"
    assert (tmp_path / "files" / disk.root_directory / "later" / "p.png").read_bytes() == data
    assert served(client, "/file/later/p.png") == data


@pytest.mark.django_db
def test_a_leftover_a_file_points_at_is_never_deleted(client, tmp_path):
    upload_code()
    disk = local_channel(tmp_path / "files", name="Disk", health="connected")
    data = png(4_000)
    stored = upload_and_store(client, data)
    assert delete_leftover.apply(args=[disk.pk, stored.remote_id]).get() == "kept"
    assert served(client, "/file/pic.png") == data


@pytest.mark.django_db(transaction=True)
def test_a_worker_moves_the_channel_copy_after_an_api_move(client, tmp_path, start_worker):
    upload_code()
    disk = local_channel(tmp_path / "files", name="Disk", health="connected")
    start_worker(concurrency=1, IMGBED_MOVE_GRACE="0")
    data = png(50_000)
    response = client.post(
        f"/upload?authCode={CODE}&uploadNameType=origin", {"file": SimpleUploadedFile("w.png", data)}
    )
    assert response.status_code == 200, response.content
    wait_for(lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).exists(), what="the upload")

    moved = client.post("/api/manage/move/w.png?dist=done", **bearer(token("manage")))
    assert json.loads(moved.content)["newFileId"] == "done/w.png"
    new_copy = tmp_path / "files" / disk.root_directory / "done" / "w.png"
    old_copy = tmp_path / "files" / disk.root_directory / "w.png"
    wait_for(lambda: not old_copy.exists(), what="the old copy to go")
    assert new_copy.read_bytes() == data
    assert StoredFile.objects.get().remote_path == f"{disk.root_directory}/done/w.png"
    assert served(client, "/file/done/w.png") == data
    connection.close()


@pytest.mark.django_db
def test_a_lost_database_rebuilt_from_the_channel_finds_a_moved_file_under_its_new_id(
    client, tmp_path, manage
):
    import io

    from django.core.management import call_command

    upload_code()
    local_channel(tmp_path / "files", name="Disk", health="connected")
    data = png(7_000)
    stored = upload_and_store(client, data, folder="inbox")
    assert manage("/api/manage/move/inbox/pic.png?dist=kept").status_code == 200
    assert relocate_remote.apply(args=[stored.pk]).get() == "moved"
    assert delete_leftover.apply(args=[stored.channel_id, stored.remote_id]).get() == "deleted"

    StoredFile.objects.all().delete()  # the database is lost; the channel's folder is not
    call_command("rescan_channel", "Disk", stdout=io.StringIO())
    assert [row.public_id for row in StoredFile.objects.all()] == ["kept/pic.png"]
    assert served(client, "/file/kept/pic.png") == data
