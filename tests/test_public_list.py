"""GET /api/public/list: ImgBed's public listing, field by field, within the folders staff open,
never a blocked file nor anything private."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from library import tags
from tests.channels import local_channel
from tests.manage_support import add_file
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

BLOCK, WHITE = StoredFile.ListType.BLOCK, StoredFile.ListType.WHITE


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Private disk name", health="connected")


@pytest.fixture
def open_to_all(db):
    return configure(public_browse=True)


def listed(client, query="", status=200):
    response = client.get(f"/api/public/list?{query}")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.json()


def names(body):
    return [f["name"] for f in body["files"]]


def test_off_unless_staff_turn_it_on(client, disk):
    add_file(disk, "a.png")
    body = listed(client, status=403)
    assert "Public browse is disabled" in body["error"]
    assert "Site settings" in body["error"]
    assert "files" not in body


def test_a_file_field_by_field_and_nothing_private(client, disk, open_to_all):
    row = add_file(
        disk,
        "trip/1795930639360_beach.png",
        original_name="IMG_0001 secret name.png",
        size=1_572_864,
        uploader_ip="203.0.113.9",
        width=640,
        height=480,
    )
    tags.apply(row, "set", ["private-tag"])
    response = client.get("/api/public/list?dir=trip")
    body = response.json()
    assert list(body) == ["files", "directories", "totalCount", "returnedCount", "allowedDirs"]
    assert body["files"] == [
        {
            "name": "trip/1795930639360_beach.png",
            "metadata": {
                "FileType": "image/png",
                "TimeStamp": int(row.created_at.timestamp() * 1000),
                "FileSize": "1.50",
            },
        }
    ]
    assert body["directories"] == []
    assert body["totalCount"] == 1
    assert body["returnedCount"] == 1
    assert body["allowedDirs"] == []
    text = response.content.decode()
    for private in ("203.0.113.9", "IMG_0001", "private-tag", "Private disk name", "Local", "imgbed/"):
        assert private not in text, private


def test_the_top_lists_its_files_and_folders_when_every_folder_is_open(client, disk, open_to_all):
    add_file(disk, "top.png")
    add_file(disk, "a/one.png")
    add_file(disk, "a/b/two.png")
    add_file(disk, "c/three.png")
    body = listed(client)
    assert names(body) == ["top.png"]
    assert body["directories"] == ["a", "c"]
    assert body["totalCount"] == 1
    body = listed(client, "recursive=true")
    assert names(body) == ["c/three.png", "a/b/two.png", "a/one.png", "top.png"]  # newest first
    assert body["totalCount"] == 4
    body = listed(client, "dir=a")
    assert names(body) == ["a/one.png"]
    assert body["directories"] == ["a/b"]


def test_only_the_folders_staff_open(client, disk):
    configure(public_browse=True, public_browse_folders="albums/public\nshared")
    add_file(disk, "top.png")
    add_file(disk, "albums/private/x.png")
    add_file(disk, "albums/public/y.png")
    add_file(disk, "albums/public/sub/z.png")
    add_file(disk, "shared/s.png")
    body = listed(client, "dir=albums/public")
    assert names(body) == ["albums/public/y.png"]
    assert body["directories"] == ["albums/public/sub"]
    assert body["allowedDirs"] == ["albums/public", "shared"]
    assert names(listed(client, "dir=albums/public/sub")) == ["albums/public/sub/z.png"]
    assert names(listed(client, "dir=/shared/")) == ["shared/s.png"]
    for closed in ("", "albums", "albums/private", "albums/publicity", "albums/private/../public"):
        body = listed(client, f"dir={closed}&recursive=true", status=403)
        assert "Directory not allowed" in body["error"], closed
        assert body["allowedDirs"] == ["albums/public", "shared"]
        assert "files" not in body


def test_a_star_opens_every_folder(client, disk):
    configure(public_browse=True, public_browse_folders="*")
    add_file(disk, "top.png")
    assert names(listed(client)) == ["top.png"]


def test_blocked_files_are_left_out_and_whitelist_mode_shows_only_allowed_ones(client, disk, open_to_all):
    add_file(disk, "a/normal.png")
    add_file(disk, "a/approved.png", list_type=WHITE)
    add_file(disk, "a/blocked.png", list_type=BLOCK)
    add_file(disk, "only-blocked/x.png", list_type=BLOCK)
    add_file(disk, "only-blocked/deeper/y.png", list_type=BLOCK)
    add_file(disk, "top.png")
    add_file(disk, "top-blocked.png", list_type=BLOCK)
    body = listed(client, "recursive=true")
    assert names(body) == ["top.png", "a/approved.png", "a/normal.png"]
    assert body["totalCount"] == 3
    # A folder whose files are all blocked is not shown either.
    body = listed(client)
    assert (names(body), body["directories"], body["totalCount"]) == (["top.png"], ["a"], 1)
    assert listed(client, "dir=a")["totalCount"] == 2
    configure(public_browse=True, whitelist_mode=True)
    body = listed(client, "recursive=true")
    assert names(body) == ["a/approved.png"]
    assert body["totalCount"] == 1
    assert listed(client)["directories"] == ["a"]


def test_deleted_and_arriving_files_are_left_out(client, disk, open_to_all):
    from django.utils import timezone

    add_file(disk, "kept.png")
    add_file(disk, "gone.png", status=StoredFile.Status.DELETED, deleted_at=timezone.now())
    add_file(disk, "arriving.png", receiving=True)
    assert names(listed(client)) == ["kept.png"]


def test_paging_with_start_and_count(client, disk, open_to_all):
    for n in range(7):
        add_file(disk, f"p/{n}.png")
    body = listed(client, "dir=p&count=3")
    assert names(body) == ["p/6.png", "p/5.png", "p/4.png"]
    assert (body["totalCount"], body["returnedCount"]) == (7, 3)
    assert names(listed(client, "dir=p&start=3&count=3")) == ["p/3.png", "p/2.png", "p/1.png"]
    body = listed(client, "dir=p&start=6&count=3")
    assert names(body) == ["p/0.png"]
    assert (body["totalCount"], body["returnedCount"]) == (7, 1)
    body = listed(client, "dir=p&start=70")
    assert (body["files"], body["totalCount"], body["returnedCount"]) == ([], 7, 0)
    assert len(listed(client, "dir=p")["files"]) == 7  # 50 by default


def test_count_is_capped_at_100(client, disk, open_to_all):
    for n in range(105):
        add_file(disk, f"many/{n:03}.png")
    for count in ("500", "-1", "100"):
        body = listed(client, f"dir=many&count={count}")
        assert (body["returnedCount"], body["totalCount"]) == (100, 105), count
    assert names(listed(client, "dir=many&count=500&start=100")) == [
        f"many/{n:03}.png" for n in range(4, -1, -1)
    ]


@pytest.mark.parametrize(
    "query, words",
    [
        ("count=0", "count must be from 1 to 100"),
        ("count=lots", "count must be a whole number"),
        ("start=x", "start must be a whole number"),
        ("type=pictures", "type must be one of image, video, audio, other"),
    ],
)
def test_bad_parameters_are_a_400_in_words(client, disk, open_to_all, query, words):
    body = listed(client, query, status=400)
    assert words in body["error"]


def test_search_matches_the_id_not_the_original_name(client, disk, open_to_all):
    add_file(disk, "x/1795930639360_Sunset.png", original_name="holiday.png")
    add_file(disk, "x/1795930639361_dawn.png")
    add_file(disk, "y/1795930639362_sunset-again.png")
    assert names(listed(client, "dir=x&search=sunset")) == ["x/1795930639360_Sunset.png"]
    assert names(listed(client, "search=SUNSET&recursive=true")) == [
        "y/1795930639362_sunset-again.png",
        "x/1795930639360_Sunset.png",
    ]
    assert names(listed(client, "search=holiday&recursive=true")) == []


def test_type_by_mime_prefix(client, disk, open_to_all):
    add_file(disk, "m/a.png")
    add_file(disk, "m/b.mp4", content_type="video/mp4")
    add_file(disk, "m/c.mp3", content_type="audio/mpeg")
    add_file(disk, "m/d.pdf", content_type="application/pdf")
    assert names(listed(client, "dir=m&type=image")) == ["m/a.png"]
    assert names(listed(client, "dir=m&type=video")) == ["m/b.mp4"]
    assert names(listed(client, "dir=m&type=audio")) == ["m/c.mp3"]
    body = listed(client, "dir=m&type=other")
    assert names(body) == ["m/d.pdf"]
    assert body["totalCount"] == 1


def _reads(client, query):
    with CaptureQueriesContext(connection) as seen:
        body = listed(client, query)
    return body, [q["sql"] for q in seen.captured_queries if "uploads_storedfile" in q["sql"]]


@pytest.mark.parametrize("query", ["dir=q&recursive=true&count=100", "", "dir=q&type=image"])
def test_a_page_costs_the_same_few_queries_however_many_files(client, disk, open_to_all, query):
    for n in range(8):
        add_file(disk, f"q/{n % 4}/{n}.png")
        add_file(disk, f"q/{n % 4}/blocked-{n}.png", list_type=BLOCK)
    _, few = _reads(client, query)
    for n in range(8, 160):
        add_file(disk, f"q/{n % 4}/{n}.png")
        add_file(disk, f"q/{n % 4}/blocked-{n}.png", list_type=BLOCK)
    body, many = _reads(client, query)
    assert len(many) == len(few) <= 7, many
    assert body["files"] or body["directories"]
