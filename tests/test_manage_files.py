"""Deleting, moving, renaming, editing, blocking and counting files through /api/manage/."""

import json

import pytest

from library import tags
from tests.channels import local_channel
from tests.manage_support import add_file, bearer, token
from uploads import lifecycle
from uploads.models import FormerId, StoredFile

pytestmark = pytest.mark.django_db
Status = StoredFile.Status


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


@pytest.fixture
def manager(client):
    headers = bearer(token("manage", "delete", "list"))

    def call(method, path, body=None):
        if body is None:
            return getattr(client, method)(path, **headers)
        data = body if isinstance(body, str) else json.dumps(body)
        return getattr(client, method)(path, data, content_type="application/json", **headers)

    return call


def row(public_id):
    return StoredFile.objects.get(public_id=public_id)


def refused(response, status, phrase):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and phrase in body["error"], body
    return body


# --- delete -------------------------------------------------------------------------------


def test_delete_one_file(manager, disk, client):
    add_file(disk, "a/x.png")
    response = manager("delete", "/api/manage/delete/a/x.png")
    assert response.status_code == 200
    assert response.json() == {"success": True, "fileId": "a/x.png"}
    stored = row("a/x.png")
    assert stored.status == Status.DELETED and stored.deleted_at is not None
    assert client.get("/file/a/x.png").status_code == 404
    # Again: the file is gone, as asked.
    assert manager("get", "/api/manage/delete/a/x.png").json() == {"success": True, "fileId": "a/x.png"}


def test_delete_an_unknown_file_is_404(manager, disk):
    body = refused(manager("delete", "/api/manage/delete/nope.png"), 404, "not found")
    assert body["fileId"] == "nope.png"


def test_delete_a_folder_gives_a_result_per_file(manager, disk):
    inside = ["a/b/1.png", "a/b/2.png", "a/b/c/3.png", "a/b/c/d/4.png"]
    for public_id in inside:
        add_file(disk, public_id)
    for public_id in ["a/bc/5.png", "a/6.png", "b/7.png"]:
        add_file(disk, public_id)
    lifecycle.delete(add_file(disk, "a/b/already-gone.png"))
    response = manager("post", "/api/manage/delete/a/b?folder=true")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["success", "deleted", "failed"]
    assert body["success"] is True and sorted(body["deleted"]) == inside and body["failed"] == []
    assert set(StoredFile.objects.filter(status=Status.DELETED).values_list("public_id", flat=True)) == {
        *inside,
        "a/b/already-gone.png",
    }
    assert StoredFile.objects.exclude(status=Status.DELETED).count() == 3
    refused(manager("post", "/api/manage/delete/a/b?folder=true"), 404, "No files in the folder a/b")


def test_delete_a_folder_with_slashes_around_it_and_never_the_whole_site(manager, disk):
    add_file(disk, "a/1.png")
    add_file(disk, "top.png")
    refused(manager("post", "/api/manage/delete/%2F?folder=true"), 400, "Name the folder")
    assert manager("post", "/api/manage/delete/a/?folder=true").json()["deleted"] == ["a/1.png"]
    assert row("top.png").status == Status.STORED


# --- move ---------------------------------------------------------------------------------


def test_move_one_file_keeps_its_name_and_its_remote_path(manager, disk):
    add_file(disk, "a/x.png")
    response = manager("post", "/api/manage/move/a/x.png?dist=c/d")
    assert response.status_code == 200
    assert response.json() == {"success": True, "fileId": "a/x.png", "newFileId": "c/d/x.png"}
    moved = row("c/d/x.png")
    assert moved.folder == "c/d"
    assert (moved.remote_path, moved.remote_id) == ("imgbed/a/x.png", "imgbed/a/x.png")  # not moved there
    assert list(FormerId.objects.values_list("public_id", "file_id")) == [("a/x.png", moved.pk)]


@pytest.mark.parametrize("dist, expected", [("/c/", "c/x.png"), ("c//d", "c/d/x.png"), ("", "x.png")])
def test_move_dist_is_normalised(manager, disk, dist, expected):
    add_file(disk, "a/x.png")
    assert manager("post", f"/api/manage/move/a/x.png?dist={dist}").json()["newFileId"] == expected
    assert row(expected).folder == expected.rpartition("/")[0]


@pytest.mark.parametrize("dist", ["../etc", "a/../../b", "/".join(["deep"] * 11)])
def test_move_to_a_bad_folder_is_refused(manager, disk, dist):
    add_file(disk, "a/x.png")
    refused(manager("post", f"/api/manage/move/a/x.png?dist={dist}"), 400, "dist")
    assert row("a/x.png").status == Status.STORED


def test_move_onto_an_existing_id_is_409_and_changes_nothing(manager, disk):
    add_file(disk, "a/x.png", size=111)
    add_file(disk, "b/x.png", size=222)
    body = refused(manager("post", "/api/manage/move/a/x.png?dist=b"), 409, "already exists")
    assert body["fileId"] == "a/x.png"
    assert (row("a/x.png").size, row("b/x.png").size) == (111, 222)
    assert not FormerId.objects.exists()


def test_move_onto_a_deleted_files_id_is_409(manager, disk):
    lifecycle.delete(add_file(disk, "b/x.png"))
    add_file(disk, "a/x.png")
    refused(manager("post", "/api/manage/move/a/x.png?dist=b"), 409, "deleted file's id")


def test_move_onto_another_files_old_link_is_409(manager, disk):
    add_file(disk, "a/x.png")
    assert manager("post", "/api/manage/move/a/x.png?dist=elsewhere").status_code == 200
    add_file(disk, "b/x.png")
    refused(manager("post", "/api/manage/move/b/x.png?dist=a"), 409, "old link of elsewhere/x.png")


def test_move_back_to_its_own_old_id_and_onto_itself(manager, disk):
    add_file(disk, "a/x.png")
    manager("post", "/api/manage/move/a/x.png?dist=b")
    assert manager("post", "/api/manage/move/b/x.png?dist=a").json()["newFileId"] == "a/x.png"
    assert list(FormerId.objects.values_list("public_id", flat=True)) == ["b/x.png"]
    assert manager("post", "/api/manage/move/a/x.png?dist=a").json()["newFileId"] == "a/x.png"  # no change


def test_move_an_unknown_file_is_404(manager, disk):
    refused(manager("post", "/api/manage/move/nope.png?dist=b"), 404, "not found")


def test_move_a_folder_into_another_keeps_its_name(manager, disk):
    for public_id in ["a/b/1.png", "a/b/c/2.png", "a/bc/3.png", "a/4.png"]:
        add_file(disk, public_id)
    response = manager("post", "/api/manage/move/a/b?dist=z&folder=true")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "success": True,
        "processed": [
            {"fileId": "a/b/1.png", "newFileId": "z/b/1.png"},
            {"fileId": "a/b/c/2.png", "newFileId": "z/b/c/2.png"},
        ],
        "failed": [],
        "errors": [],
    }
    assert set(StoredFile.objects.values_list("public_id", "folder")) == {
        ("z/b/1.png", "z/b"),
        ("z/b/c/2.png", "z/b/c"),
        ("a/bc/3.png", "a/bc"),
        ("a/4.png", "a"),
    }
    assert set(FormerId.objects.values_list("public_id", flat=True)) == {"a/b/1.png", "a/b/c/2.png"}


def test_move_a_folder_to_the_top_and_into_itself(manager, disk):
    add_file(disk, "a/b/1.png")
    assert manager("post", "/api/manage/move/a/b?folder=true").json()["processed"] == [
        {"fileId": "a/b/1.png", "newFileId": "b/1.png"}
    ]
    add_file(disk, "b/b/2.png")  # b/b/2.png moves to b/b/b/2.png while b/1.png moves to b/b/1.png
    body = manager("post", "/api/manage/move/b?dist=b&folder=true").json()
    assert body["success"] is True
    assert set(StoredFile.objects.values_list("public_id", flat=True)) == {"b/b/1.png", "b/b/b/2.png"}


def test_move_a_folder_whose_files_take_each_others_ids(manager, disk):
    """x/x/1.png goes to x/x/x/1.png while x/1.png takes x/x/1.png: never two files on one id."""
    add_file(disk, "x/1.png", size=1)
    add_file(disk, "x/x/1.png", size=2)
    body = manager("post", "/api/manage/move/x?dist=x&folder=true").json()
    assert body["success"] is True
    assert row("x/x/1.png").size == 1 and row("x/x/x/1.png").size == 2
    # x/x/1.png is a file's id again, not an old link; x/1.png leads to the file that had it.
    assert dict(FormerId.objects.values_list("public_id", "file__size")) == {"x/1.png": 1}


def test_move_a_folder_with_conflicts_207_and_each_file_says(manager, disk):
    add_file(disk, "a/1.png", size=1)
    add_file(disk, "a/2.png", size=2)
    add_file(disk, "z/a/2.png", size=99)
    response = manager("post", "/api/manage/move/a?dist=z&folder=true")
    assert response.status_code == 207
    body = response.json()
    assert body["success"] is False
    assert body["processed"] == [{"fileId": "a/1.png", "newFileId": "z/a/1.png"}]
    assert body["failed"] == ["a/2.png"]
    assert body["errors"] == [{"fileId": "a/2.png", "error": "A file with the id z/a/2.png already exists."}]
    assert row("a/2.png").size == 2 and row("z/a/2.png").size == 99 and row("z/a/1.png").size == 1


def test_move_a_folder_where_every_file_conflicts_409(manager, disk):
    add_file(disk, "a/1.png")
    add_file(disk, "z/a/1.png")
    response = manager("post", "/api/manage/move/a?dist=z&folder=true")
    assert response.status_code == 409
    assert response.json()["processed"] == [] and response.json()["failed"] == ["a/1.png"]
    refused(manager("post", "/api/manage/move/empty?dist=z&folder=true"), 404, "No files in the folder")


# --- rename -------------------------------------------------------------------------------


def test_rename(manager, disk):
    stored = add_file(disk, "a/x.png", original_name="holiday.png")
    tags.apply(stored, "set", ["sea"])
    response = manager("post", "/api/manage/rename/a/x.png", {"newFileId": "b/c/new.png"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["success", "newFileId", "metadata"]
    assert body["success"] is True and body["newFileId"] == "b/c/new.png"
    metadata = body["metadata"]
    assert metadata["Directory"] == "b/c/" and metadata["FileName"] == "holiday.png"  # the name stays
    assert metadata["Tags"] == ["sea"] and metadata["ChannelName"] == "Disk"
    renamed = row("b/c/new.png")
    assert renamed.pk == stored.pk and renamed.folder == "b/c" and renamed.remote_path == "imgbed/a/x.png"
    assert manager("post", "/api/manage/rename/b/c/new.png", {"newFileId": "/top.png"}).json()[
        "newFileId"
    ] == ("top.png")
    assert row("top.png").folder == ""


def test_rename_refusals(manager, disk):
    add_file(disk, "a/x.png")
    add_file(disk, "a/y.png")
    refused(manager("post", "/api/manage/rename/nope.png", {"newFileId": "z.png"}), 404, "not found")
    refused(manager("post", "/api/manage/rename/a/x.png", {"newFileId": "a/y.png"}), 409, "already exists")
    response = manager("get", "/api/manage/rename/a/x.png")
    assert response.status_code == 405 and response["Allow"] == "POST, OPTIONS"
    refused(manager("post", "/api/manage/rename/a/x.png", {}), 400, "newFileId is required")
    refused(manager("post", "/api/manage/rename/a/x.png", {"newFileId": "  "}), 400, "newFileId is required")
    refused(manager("post", "/api/manage/rename/a/x.png", "not json"), 400, "JSON")
    refused(manager("post", "/api/manage/rename/a/x.png", "[1]"), 400, "JSON object")
    body = refused(
        manager("post", "/api/manage/rename/a/x.png", {"newFileId": "b/my pic?.png"}), 400, "would do"
    )
    assert "'b/my_pic_.png'" in body["error"]
    refused(manager("post", "/api/manage/rename/a/x.png", {"newFileId": "../up.png"}), 400, "newFileId")
    assert set(StoredFile.objects.values_list("public_id", flat=True)) == {"a/x.png", "a/y.png"}


# --- metadata -----------------------------------------------------------------------------


def test_edit_file_name_and_type(manager, disk, client):
    add_file(disk, "a/x.png", original_name="old.png")
    response = manager("patch", "/api/manage/metadata/a/x.png", {"FileName": "Pretty name.png"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["success", "metadata"] and body["success"] is True
    assert body["metadata"]["FileName"] == "Pretty name.png" and body["metadata"]["FileType"] == "image/png"
    body = manager("patch", "/api/manage/metadata/a/x.png", {"FileType": "Image/JPEG"}).json()
    assert body["metadata"]["FileType"] == "image/jpeg" and body["metadata"]["FileName"] == "Pretty name.png"
    stored = row("a/x.png")
    assert (stored.original_name, stored.content_type) == ("Pretty name.png", "image/jpeg")
    listed = client.get("/api/manage/list?dir=a", **bearer(token("list"))).json()["files"][0]["metadata"]
    assert (listed["FileName"], listed["FileType"]) == ("Pretty name.png", "image/jpeg")


def test_edit_metadata_refusals(manager, disk):
    add_file(disk, "a/x.png")
    refused(manager("patch", "/api/manage/metadata/a/x.png", {}), 400, "FileName or FileType")
    refused(manager("patch", "/api/manage/metadata/a/x.png", {"FileName": ""}), 400, "FileName")
    refused(manager("patch", "/api/manage/metadata/a/x.png", {"FileName": "a\nb"}), 400, "control")
    refused(manager("patch", "/api/manage/metadata/a/x.png", {"FileName": 5}), 400, "FileName")
    refused(manager("patch", "/api/manage/metadata/a/x.png", {"FileType": "png"}), 400, "MIME type")
    refused(manager("patch", "/api/manage/metadata/a/x.png", {"FileType": "text/html; x"}), 400, "MIME type")
    refused(manager("patch", "/api/manage/metadata/nope.png", {"FileName": "n.png"}), 404, "not found")
    assert manager("post", "/api/manage/metadata/a/x.png", {"FileName": "n.png"}).status_code == 405
    assert (row("a/x.png").original_name, row("a/x.png").content_type) == ("x.png", "image/png")


def test_a_type_renamed_to_html_is_still_never_shown_inline(manager, disk, client, tmp_path):
    """FileType is a label: serving keeps active content an attachment whatever it is called."""
    from tests.files import png
    from tests.manage_support import upload_and_store, upload_code

    upload_code()
    stored = upload_and_store(client, png(200))
    manager("patch", f"/api/manage/metadata/{stored.public_id}", {"FileType": "text/html"})
    served = client.get(f"/file/{stored.public_id}")
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"].startswith("attachment")


# --- block, white, normal -----------------------------------------------------------------


@pytest.mark.parametrize("route, list_type", [("block", "Block"), ("white", "White"), ("normal", "None")])
@pytest.mark.parametrize("method", ["get", "post", "put"])
def test_block_white_and_back_to_normal(manager, disk, route, list_type, method):
    add_file(disk, "a/x.png", list_type="White" if list_type != "White" else "Block")
    response = manager(method, f"/api/manage/{route}/a/x.png")
    assert response.status_code == 200
    assert response.json() == {"success": True, "listType": list_type}
    assert row("a/x.png").list_type == list_type
    refused(manager(method, f"/api/manage/{route}/nope.png"), 404, "not found")


def test_list_types_show_in_the_list(manager, disk):
    add_file(disk, "x.png")
    manager("post", "/api/manage/block/x.png")
    assert manager("get", "/api/manage/list").json()["files"][0]["metadata"]["ListType"] == "Block"
    manager("post", "/api/manage/normal/x.png")
    assert manager("get", "/api/manage/list?listType=None").json()["returnedCount"] == 1


# --- quota --------------------------------------------------------------------------------


def test_quota_per_channel(manager, disk, tmp_path):
    other = local_channel(tmp_path / "spare", name="Spare")
    add_file(disk, "a.png", size=3 * 1024 * 1024)
    add_file(disk, "b.png", size=1024 * 1024 // 2)
    lifecycle.delete(add_file(disk, "gone.png", size=50 * 1024 * 1024))
    response = manager("get", "/api/manage/quota")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["success", "quotaStats", "totalSizeMB", "totalCount", "lastUpdated"]
    assert body["success"] is True
    assert body["quotaStats"] == {
        "Disk": {"usedMB": 3.5, "fileCount": 2},
        other.name: {"usedMB": 0.0, "fileCount": 0},
    }
    assert (body["totalSizeMB"], body["totalCount"]) == (3.5, 2)
    assert isinstance(body["lastUpdated"], int)
    recount = manager("post", "/api/manage/quota").json()
    assert recount["success"] is True and recount["channelStats"] == body["quotaStats"]
    assert (recount["totalSizeMB"], recount["totalCount"], recount["totalUniqueFiles"]) == (3.5, 2, 2)


def test_a_move_that_loses_a_race_for_the_id_is_409_and_leaves_no_trace(manager, disk, monkeypatch):
    """Another request or an upload took the id between the check and the write."""
    add_file(disk, "a/x.png", size=1)
    add_file(disk, "b/x.png", size=2)
    monkeypatch.setattr("library.moves._taken", lambda new_id, moving_pk: None)
    refused(manager("post", "/api/manage/move/a/x.png?dist=b"), 409, "already exists")
    assert (row("a/x.png").size, row("b/x.png").size) == (1, 2)
    assert not FormerId.objects.exists()
    add_file(disk, "a/y.png", size=3)
    add_file(disk, "c/a/x.png", size=4)
    monkeypatch.setattr("library.moves._why", lambda *args, **kwargs: None)
    refused(manager("post", "/api/manage/move/a?dist=c&folder=true"), 409, "nothing was moved")
    assert [row(i).size for i in ("a/x.png", "a/y.png", "b/x.png", "c/a/x.png")] == [1, 3, 2, 4]
    assert not FormerId.objects.exists()
