"""Backing the library up and restoring it: export_library, import_library and the admin's download,
on files really stored on a local channel (their links are checked after the restore)."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from channels import crypto
from channels.models import Channel
from channels.onedrive.models import OneDriveSettings
from channels.s3.models import S3Settings
from channels.webdav.models import WebDAVChannel, WebDAVSettings
from imgbed_site.models import SiteSettings
from library import moves
from library import tags as library_tags
from library.backup import format as fmt
from library.backup import jsonstream
from library.models import FileTag, Tag
from tests.channels import local_channel, onedrive_channel, s3_channel
from tests.files import png
from tests.manage_support import CODE, add_file, content, token, upload_and_store, upload_code
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads import lifecycle
from uploads.models import FormerId, StoredFile
from uploads.tasks import delete_remote

pytestmark = pytest.mark.django_db

SETTINGS = dict(
    public_browse=True,
    public_browse_folders="trip",
    random_enabled=True,
    upload_ip_blocklist="203.0.113.0/24",
    placeholder_url="https://cdn.example.com/blocked.png",
)


@pytest.fixture
def disk(tmp_path):
    upload_code()
    return local_channel(tmp_path / "files", name="Disk", health="connected")


@pytest.fixture
def library(client, disk):
    """Files as a site holds them after a while: stored in folders, moved, tagged, blocked and
    allowed, one deleted, one still pending; and its site settings changed."""
    data = {
        "trip/day1/beach.png": png(20_000, width=3, height=2),
        "trip/sunset.png": png(5_000),
        "notes.png": png(1_000),
    }
    upload_and_store(client, data["trip/day1/beach.png"], name="beach.png", folder="trip/day1")
    upload_and_store(client, data["trip/sunset.png"], name="sunset.png", folder="trip")
    notes = upload_and_store(client, data["notes.png"], name="notes.png")
    # Moved twice: both old links redirect to the newest id.
    moves.move(notes, "old/notes.png")
    moves.move(notes, "archive/notes.png")
    data["archive/notes.png"] = data.pop("notes.png")
    beach = StoredFile.objects.get(public_id="trip/day1/beach.png")
    library_tags.apply(beach, "set", ["summer", "sea", "海"])
    library_tags.apply(StoredFile.objects.get(public_id="trip/sunset.png"), "set", ["sea"])
    StoredFile.objects.filter(public_id="trip/sunset.png").update(
        list_type="White", uploader_ip="2001:db8::7"
    )
    StoredFile.objects.filter(public_id="archive/notes.png").update(list_type="Block")
    gone = upload_and_store(client, png(300), name="gone.png")
    lifecycle.delete(gone)
    assert delete_remote.apply(args=[gone.pk]).get() == "deleted"  # the worker's part of deleting
    add_file(disk, "waiting.png", status=StoredFile.Status.PENDING)
    Tag.objects.create(name="unused")
    configure(**SETTINGS)
    return data


def state() -> dict:
    """Everything an export holds, as the database has it, without row ids."""
    files = {}
    for row in StoredFile.objects.select_related("channel").order_by("public_id"):
        files[row.public_id] = {
            **{name: getattr(row, name) for name in fmt.FILE_FIELDS},
            "channel": row.channel.name,
            "former_ids": sorted(FormerId.objects.filter(file=row).values_list("public_id", flat=True)),
            "tags": list(FileTag.objects.filter(file=row).order_by("id").values_list("tag__name", flat=True)),
        }
    row = SiteSettings.objects.filter(pk=SiteSettings.SINGLETON_PK).first()
    return {
        "files": files,
        "tags": sorted(Tag.objects.values_list("name", flat=True)),
        "settings": {name: getattr(row, name) for name in fmt.SETTINGS_FIELDS} if row else None,
        "stored_bytes": dict(Channel.objects.values_list("name", "stored_bytes")),
    }


def export(path, *args) -> str:
    out = io.StringIO()
    call_command("export_library", str(path), *args, stdout=out)
    return out.getvalue()


def import_(path) -> str:
    out = io.StringIO()
    call_command("import_library", str(path), stdout=out)
    return out.getvalue()


def wipe():
    """The library gone, the channels kept: what a lost database restored to its schema looks like."""
    StoredFile.objects.all().delete()
    Tag.objects.all().delete()
    SiteSettings.objects.all().delete()
    Channel.objects.update(stored_bytes=0)
    assert not FormerId.objects.exists() and not FileTag.objects.exists()


def test_export_wipe_import_gives_the_same_library_and_working_links(client, library, tmp_path):
    before = state()
    backup = tmp_path / "library.json"
    said = export(backup)
    assert "Exported 4 files (1 of them deleted" in said
    assert "Left out 1 files not stored on a channel yet (1 pending)" in said

    wipe()
    assert client.get("/file/trip/sunset.png").status_code == 404
    said = import_(backup)
    assert "Files: 4 created, 0 updated, 0 unchanged, 0 skipped." in said
    after = state()
    del before["files"]["waiting.png"]  # pending: its bytes are only in staging, so not exported
    assert after == before

    for public_id, data in library.items():
        served = client.get(f"/file/{public_id}", HTTP_REFERER="")
        if public_id == "archive/notes.png":  # blocked before, blocked after
            assert served.status_code == 403
            continue
        assert served.status_code == 200, public_id
        assert content(served) == data
        assert served["Content-Type"] == "image/png"
    for old in ("notes.png", "old/notes.png"):
        moved = client.get(f"/file/{old}")
        assert (moved.status_code, moved["Location"]) == (301, "/file/archive/notes.png")
    assert client.get("/file/gone.png").status_code == 404  # deleted stays deleted


def test_import_twice_changes_nothing_the_second_time(library, tmp_path):
    backup = tmp_path / "library.json"
    export(backup)
    wipe()
    import_(backup)
    first = state()
    said = import_(backup)
    assert "Files: 0 created, 0 updated, 4 unchanged, 0 skipped." in said
    assert "Site settings: unchanged." in said
    assert state() == first
    assert StoredFile.objects.count() == 4 and FormerId.objects.count() == 2


def test_import_into_the_same_site_updates_what_changed_since(library, tmp_path):
    backup = tmp_path / "library.json"
    export(backup)
    before = state()
    sunset = StoredFile.objects.get(public_id="trip/sunset.png")
    StoredFile.objects.filter(pk=sunset.pk).update(list_type="Block")
    library_tags.apply(sunset, "set", ["dusk", "sea"])
    FormerId.objects.filter(public_id="notes.png").delete()
    said = import_(backup)
    assert "Files: 0 created, 2 updated, 2 unchanged, 0 skipped." in said
    after = state()
    # An import adds and updates; a tag made here since stays a tag (on no file now).
    assert after.pop("tags") == sorted([*before.pop("tags"), "dusk"])
    assert after == before


def test_a_channel_missing_here_skips_its_files_says_what_to_do_and_fails(client, library, tmp_path):
    other = local_channel(tmp_path / "other", name="Old disk", root_directory="pics")
    add_file(other, "elsewhere/one.png")
    add_file(other, "elsewhere/two.png")
    backup = tmp_path / "library.json"
    export(backup)
    wipe()
    Channel.objects.filter(pk=other.pk).delete()

    out = io.StringIO()
    with pytest.raises(CommandError, match="2 files were not imported"):
        call_command("import_library", str(backup), stdout=out)
    said = out.getvalue()
    assert "Files: 4 created, 0 updated, 0 unchanged, 2 skipped." in said
    assert (
        "Skipped 2 files: channel Old disk does not exist here: create it in the admin (a Local folder "
        "channel named Old disk, root directory pics), then run import again."
    ) in said
    assert not StoredFile.objects.filter(public_id__startswith="elsewhere/").exists()
    assert content(client.get("/file/trip/sunset.png")) == library["trip/sunset.png"]

    local_channel(tmp_path / "other", name="Old disk", root_directory="pics")
    said = import_(backup)
    assert "Files: 2 created, 0 updated, 4 unchanged, 0 skipped." in said
    assert StoredFile.objects.get(public_id="elsewhere/two.png").channel.name == "Old disk"


def test_a_channel_of_another_kind_with_the_name_is_not_used(library, tmp_path):
    backup = tmp_path / "library.json"
    export(backup)
    wipe()
    StoredFile.objects.all().delete()
    Channel.objects.all().delete()
    WebDAVChannel.objects.create(name="Disk")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_library", str(backup), stdout=out)
    assert "the channel Disk here is a WebDAV channel, in the export a Local folder one" in out.getvalue()
    assert not StoredFile.objects.exists()


@pytest.fixture
def secrets(disk, s3_server):
    """Channels of every kind with secrets, an API token, an upload code and a session URL: none of
    which may appear in an export."""
    onedrive_channel(
        name="Drive",
        client_id="app-id",
        client_secret="client-secret-Value~8Q~0123456789",
        refresh_token="M.refresh-token-0123456789abcdef",
        access_token="eyJ-access-token-0123456789",
    )
    s3_channel(s3_server, name="Bucket", root_directory="pics")
    dav = WebDAVChannel.objects.create(name="DAV")
    WebDAVSettings.objects.create(
        channel=dav, base_url="https://dav.example.com/dav", username="me", password="dav-pass-0123456789"
    )
    api_token = token("upload", "list")
    pending = add_file(disk, "big.bin", status=StoredFile.Status.UPLOADING)
    pending.upload_session_url = "https://upload.example.com/session/0123456789secret"
    pending.save()
    return [
        "client-secret-Value~8Q~0123456789",
        "M.refresh-token-0123456789abcdef",
        "eyJ-access-token-0123456789",
        s3_server.secret_access_key,
        "dav-pass-0123456789",
        api_token,
        CODE,
        "0123456789secret",
    ]


@pytest.mark.parametrize("args", [(), ("--with-secrets",)], ids=["without", "with-secrets"])
def test_an_export_holds_no_secret_in_plaintext(library, secrets, tmp_path, args):
    backup = tmp_path / "library.json"
    export(backup, *args)
    text = backup.read_text()
    for secret in secrets:
        assert secret not in text and json.dumps(secret)[1:-1] not in text, secret[:6]
    exported = json.loads(text)
    assert exported["secrets"] == ("encrypted" if args else "none")
    bucket = next(c for c in exported["channels"] if c["name"] == "Bucket")
    assert bucket["settings"]["bucket"] == "imgbed-test" and "secret_access_key" not in bucket["settings"]
    assert ("secrets" in bucket) == bool(args)


def test_channels_with_their_secrets_are_created_by_an_import(library, secrets, tmp_path, client):
    backup = tmp_path / "library.json"
    export(backup, "--with-secrets")
    wipe()
    StoredFile.objects.all().delete()
    Channel.objects.all().delete()

    said = import_(backup)
    assert "Channels created from the export: Bucket, DAV, Disk, Drive." in said
    assert "Files: 4 created" in said
    drive = OneDriveSettings.objects.get(channel__name="Drive")
    assert (drive.client_id, drive.client_secret) == ("app-id", "client-secret-Value~8Q~0123456789")
    assert drive.refresh_token == "M.refresh-token-0123456789abcdef"
    bucket = S3Settings.objects.get(channel__name="Bucket")
    assert bucket.secret_access_key == secrets[3] and bucket.channel.root_directory == "pics"
    assert WebDAVSettings.objects.get(channel__name="DAV").password == "dav-pass-0123456789"
    # Kept encrypted, as every secret at rest.
    raw = S3Settings.objects.filter(pk=bucket.pk).values_list("secret_access_key", flat=True).get()
    assert secrets[3] not in raw and crypto.decrypt(raw) == secrets[3]
    assert Channel.objects.get(name="Disk").health == Channel.Health.NOT_CONNECTED
    assert content(client.get("/file/trip/sunset.png")) == library["trip/sunset.png"]


def test_secrets_under_another_key_are_refused_before_anything_changes(
    library, secrets, tmp_path, settings, new_key
):
    backup = tmp_path / "library.json"
    export(backup, "--with-secrets")
    wipe()
    StoredFile.objects.all().delete()
    Channel.objects.exclude(name="Disk").delete()
    settings.IMGBED_ENCRYPTION_KEYS = [new_key]
    with pytest.raises(
        CommandError, match="encrypted with another key than this site's IMGBED_ENCRYPTION_KEYS"
    ):
        import_(backup)
    assert not StoredFile.objects.exists() and list(Channel.objects.values_list("name", flat=True)) == [
        "Disk"
    ]
    assert not SiteSettings.objects.exists()


def test_the_export_can_go_to_standard_output_and_come_back_from_standard_input(library, capsys, monkeypatch):
    call_command("export_library", "-")
    captured = capsys.readouterr()
    exported = json.loads(captured.out)
    assert (exported["format"], exported["version"]) == ("imgbed-library", 1)
    assert [f["public_id"] for f in exported["files"]] == [
        "trip/day1/beach.png",
        "trip/sunset.png",
        "archive/notes.png",
        "gone.png",
    ]
    beach = exported["files"][0]
    assert beach["tags"] == ["summer", "sea", "海"] and (beach["width"], beach["height"]) == (3, 2)
    assert exported["files"][2]["former_ids"] == ["notes.png", "old/notes.png"]
    assert exported["summary"]["left_out"] == {"pending": 1}
    assert "Left out 1 files" in captured.err  # the summary stays out of the JSON

    before = state()
    del before["files"]["waiting.png"]
    wipe()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(captured.out.encode())))
    out = io.StringIO()
    call_command("import_library", "-", stdout=out)
    assert out.getvalue().startswith("Imported standard input, exported ")
    assert state() == before


def test_a_small_read_buffer_reads_the_same_export(library, tmp_path, monkeypatch):
    backup = tmp_path / "library.json"
    export(backup)
    monkeypatch.setattr(jsonstream, "CHUNK", 7)  # every value split across reads
    with open(backup, encoding="utf-8") as fh:
        members = {
            key: list(value) if key in ("tags", "files") else value
            for key, value in jsonstream.Reader(fh, streamed=("tags", "files")).members()
        }
    assert members == json.loads(backup.read_text())


def _cut(text):
    return text[: len(text) // 2]


@pytest.mark.parametrize(
    "write, words",
    [
        (lambda t: png(100), "is not an imgbed library export: it is not UTF-8 text"),
        (lambda t: '{"files": []}', "is not an imgbed library export"),
        (lambda t: "[1, 2]", "is not an imgbed library export"),
        (
            lambda t: '{"format": "imgbed-library", "version": 1, "files": [}',
            "is not valid JSON: Expecting value",
        ),
        (lambda t: t.replace('"version": 1', '"version": 2'), "made by a newer imgbed (format version 2"),
        (_cut, "is not valid JSON"),
        (lambda t: t.replace('"files": [', '"files": [{"public_id": "x.png"},', 1), "file 1 has no"),
        (lambda t: t.replace('"status":"stored"', '"status":"pending"', 1), "is not one an export holds"),
        (lambda t: t.replace('"files":4', '"files":5'), "holds 4 files but its summary says 5"),
    ],
    ids=[
        "binary",
        "other-json",
        "not-an-object",
        "broken",
        "newer",
        "cut-short",
        "bad-record",
        "bad-status",
        "edited",
    ],
)
def test_a_file_that_is_no_good_export_is_refused_in_words_and_changes_nothing(
    library, tmp_path, write, words
):
    backup = tmp_path / "library.json"
    export(backup)
    wipe()
    broken = tmp_path / "broken.json"
    written = write(backup.read_text())
    broken.write_bytes(written if isinstance(written, bytes) else written.encode())
    with pytest.raises(CommandError, match=words.replace("(", r"\(")):
        import_(broken)
    assert not StoredFile.objects.exists() and not Tag.objects.exists() and not SiteSettings.objects.exists()


def test_a_missing_file_is_said(db, tmp_path):
    with pytest.raises(CommandError, match=r"There is no file .*nothing\.json"):
        import_(tmp_path / "nothing.json")


# The admin's download.


def test_staff_download_the_export_as_json(staff_client, library):
    index = staff_client.get("/admin/")
    assert b"Download the library as JSON" in index.content
    response = staff_client.get("/admin/backup/library.json")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="imgbed-library-')
    exported = json.loads(content(response))
    assert exported["format"] == "imgbed-library" and exported["secrets"] == "none"
    assert len(exported["files"]) == 4


def test_the_download_is_refused_to_everyone_else(client, django_user_model, library):
    anonymous = client.get("/admin/backup/library.json")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    user = django_user_model.objects.create_user("visitor", password="pw")
    client.force_login(user)
    signed_in = client.get("/admin/backup/library.json")
    assert signed_in.status_code == 302 and "/admin/login/" in signed_in["Location"]
    user.is_staff = True
    user.save()
    staff_without_files = client.get("/admin/backup/library.json")
    assert staff_without_files.status_code == 403
    assert b"permission to view files" in staff_without_files.content
    assert b"Download the library" not in client.get("/admin/").content
