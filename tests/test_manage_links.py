"""Moved and renamed files keep their old links: 301 to the current link, which serves the same
bytes from where the file was first stored (a local channel, real files on disk)."""

import pytest

from tests.channels import local_channel
from tests.files import png
from tests.manage_support import bearer, content, token, upload_and_store, upload_code
from uploads.models import FormerId, StoredFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def disk(tmp_path):
    upload_code()
    return local_channel(tmp_path / "files", name="Disk", health="connected")


@pytest.fixture
def manage(client):
    headers = bearer(token("manage", "delete"))

    def call(path, body=None):
        if body is None:
            return client.post(path, **headers)
        return client.post(path, body, content_type="application/json", **headers)

    return call


def redirect(client, path, **extra):
    response = client.get(path, **extra)
    assert response.status_code == 301, (path, response.status_code)
    assert response["Access-Control-Allow-Origin"] == "*"
    return response["Location"]


def test_a_moved_file_old_link_301_to_the_new_one_with_the_same_bytes(client, disk, manage, tmp_path):
    data = png(20_000)
    stored = upload_and_store(client, data, folder="a/b")
    on_disk = tmp_path / "files" / "imgbed" / "a" / "b" / "pic.png"
    assert stored.public_id == "a/b/pic.png" and on_disk.read_bytes() == data

    assert manage("/api/manage/move/a/b/pic.png?dist=c").json()["newFileId"] == "c/pic.png"
    assert redirect(client, "/file/a/b/pic.png") == "/file/c/pic.png"
    served = client.get("/file/c/pic.png")
    assert served.status_code == 200 and content(served) == data
    assert served["Content-Type"] == "image/png"
    # Until the relocation task runs (tests/test_relocation.py), the remote copy is where it was stored.
    moved = StoredFile.objects.get(pk=stored.pk)
    assert (moved.remote_path, moved.remote_id) == ("imgbed/a/b/pic.png", "imgbed/a/b/pic.png")
    assert on_disk.read_bytes() == data
    assert not (tmp_path / "files" / "imgbed" / "c").exists()
    # Ranges and HEAD answer the same through the new link; the old one redirects them too.
    ranged = client.get("/file/c/pic.png", HTTP_RANGE="bytes=10-19")
    assert ranged.status_code == 206 and content(ranged) == data[10:20]
    assert client.head("/file/a/b/pic.png").status_code == 301


def test_the_query_string_goes_along(client, disk, manage):
    upload_and_store(client, png(100), name="q.png")
    manage("/api/manage/move/q.png?dist=n")
    assert redirect(client, "/file/q.png?width=100&fit=cover") == "/file/n/q.png?width=100&fit=cover"


def test_renamed_twice_every_old_link_goes_to_the_newest(client, disk, manage):
    data = png(5_000)
    upload_and_store(client, data, name="first.png")
    assert manage("/api/manage/rename/first.png", {"newFileId": "x/second.png"}).status_code == 200
    assert (
        manage("/api/manage/rename/x/second.png", {"newFileId": "y/图片 3.png".replace(" ", "_")}).status_code
        == 200
    )
    newest = "/file/y/%E5%9B%BE%E7%89%87_3.png"
    assert redirect(client, "/file/first.png") == newest
    assert redirect(client, "/file/x/second.png") == newest
    assert content(client.get("/file/y/图片_3.png")) == data
    assert content(client.get(newest)) == data
    assert client.get("/file/first.png", follow=True).redirect_chain == [(newest, 301)]


def test_moved_back_home_the_link_serves_again_without_a_loop(client, disk, manage):
    data = png(1_000)
    upload_and_store(client, data, name="home.png")
    manage("/api/manage/move/home.png?dist=away")
    manage("/api/manage/move/away/home.png?dist=")
    served = client.get("/file/home.png")
    assert served.status_code == 200 and content(served) == data
    assert redirect(client, "/file/away/home.png") == "/file/home.png"
    assert list(FormerId.objects.values_list("public_id", flat=True)) == ["away/home.png"]


def test_a_folder_moves_and_all_its_old_links_follow(client, disk, manage):
    one, two = png(1_000), png(2_000)
    upload_and_store(client, one, name="1.png", folder="trip/day1")
    upload_and_store(client, two, name="2.png", folder="trip")
    body = manage("/api/manage/move/trip?dist=2026&folder=true").json()
    assert body["success"] is True and len(body["processed"]) == 2
    assert redirect(client, "/file/trip/day1/1.png") == "/file/2026/trip/day1/1.png"
    assert redirect(client, "/file/trip/2.png") == "/file/2026/trip/2.png"
    assert content(client.get("/file/2026/trip/day1/1.png")) == one
    assert content(client.get("/file/2026/trip/2.png")) == two


def test_a_deleted_file_old_links_are_gone_too(client, disk, manage):
    upload_and_store(client, png(1_000), name="bye.png")
    manage("/api/manage/move/bye.png?dist=later")
    assert manage("/api/manage/delete/later/bye.png").status_code == 200
    assert client.get("/file/later/bye.png").status_code == 404
    assert client.get("/file/bye.png").status_code == 404


def test_409_on_a_move_onto_an_existing_id_both_files_keep_their_bytes(client, disk, manage):
    mine, theirs = png(1_000), png(3_000)
    upload_and_store(client, mine, name="same.png", folder="mine")
    upload_and_store(client, theirs, name="same.png", folder="theirs")
    response = manage("/api/manage/move/mine/same.png?dist=theirs")
    assert response.status_code == 409
    assert "already exists" in response.json()["error"]
    assert content(client.get("/file/mine/same.png")) == mine
    assert content(client.get("/file/theirs/same.png")) == theirs
    assert not FormerId.objects.exists()


def test_an_old_link_cannot_be_taken_by_a_move(client, disk, manage):
    first, second = png(1_000), png(2_000)
    upload_and_store(client, first, name="logo.png")
    manage("/api/manage/move/logo.png?dist=old")
    upload_and_store(client, second, name="logo.png", folder="other")
    refused = manage("/api/manage/move/other/logo.png?dist=")
    assert refused.status_code == 409 and "old link of old/logo.png" in refused.json()["error"]
    assert redirect(client, "/file/logo.png") == "/file/old/logo.png"
    assert content(client.get("/file/other/logo.png")) == second


def test_a_new_upload_named_like_an_old_link_gets_a_free_name(client, disk, manage):
    first, third = png(1_000), png(3_000)
    upload_and_store(client, first, name="logo.png")
    manage("/api/manage/move/logo.png?dist=old")
    stored = upload_and_store(client, third, name="logo.png")
    assert stored.public_id == "logo(1).png"
    assert content(client.get("/file/logo(1).png")) == third
    assert redirect(client, "/file/logo.png") == "/file/old/logo.png"
    assert content(client.get("/file/old/logo.png")) == first
