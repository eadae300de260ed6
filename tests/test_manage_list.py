"""GET /api/manage/list: ImgBed's parameters and its answer, field by field."""

import time

import pytest

from channels.s3.models import S3Channel, S3Settings
from library import tags
from tests.channels import local_channel
from tests.manage_support import add_file, bearer, token
from uploads import lifecycle
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

TOP_KEYS = [
    "files",
    "directories",
    "totalCount",
    "directFileCount",
    "directFolderCount",
    "returnedCount",
    "indexLastUpdated",
    "isIndexedResponse",
]
SECRET = "s3-secret-that-must-never-show"


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


@pytest.fixture
def bucket(db):
    channel = S3Channel.objects.create(name="R2", health="connected")
    S3Settings.objects.create(
        channel=channel,
        endpoint_url="https://account.r2.cloudflarestorage.com",
        bucket="pics",
        region="auto",
        access_key_id="AKIA-KEY-ID",
        secret_access_key=SECRET,
    )
    return channel


@pytest.fixture
def reader(client):
    headers = bearer(token("list"))

    def get(query=""):
        response = client.get(f"/api/manage/list?{query}", **headers)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        return response.json()

    return get


def names(body):
    return [f["name"] for f in body["files"]]


def test_a_file_as_imgbed_shows_it_field_by_field(reader, disk, client):
    row = add_file(
        disk,
        "a/b/1795930639360_photo.png",
        original_name="photo.png",
        size=1_572_864,
        uploader_ip="203.0.113.9",
        width=640,
        height=480,
    )
    tags.apply(row, "set", ["cat", "猫"])
    before = int(time.time() * 1000)
    body = reader("dir=a/b")
    assert list(body) == TOP_KEYS
    assert body["files"] == [
        {
            "name": "a/b/1795930639360_photo.png",
            "metadata": {
                "FileName": "photo.png",
                "FileType": "image/png",
                "FileSize": "1.50",
                "FileSizeBytes": 1_572_864,
                "UploadIP": "203.0.113.9",
                "UploadAddress": "",
                "ListType": "None",
                "TimeStamp": int(row.created_at.timestamp() * 1000),
                "Label": "None",
                "Directory": "a/b/",
                "Tags": ["cat", "猫"],
                "Width": 640,
                "Height": 480,
                "Channel": "Local",
                "ChannelName": "Disk",
            },
        }
    ]
    assert body["directories"] == []
    assert (
        body["totalCount"],
        body["directFileCount"],
        body["directFolderCount"],
        body["returnedCount"],
    ) == (
        1,
        1,
        0,
        1,
    )
    assert before <= body["indexLastUpdated"] <= int(time.time() * 1000)
    assert body["isIndexedResponse"] is True


def test_a_file_at_the_top_has_an_empty_directory_and_sizes_round_to_two_decimals(reader, disk):
    add_file(disk, "top.gif", size=5_242, content_type="image/gif", uploader_ip=None)
    metadata = reader()["files"][0]["metadata"]
    assert metadata["Directory"] == ""
    assert metadata["FileSize"] == "0.00" and metadata["FileSizeBytes"] == 5_242
    assert metadata["UploadIP"] == "" and metadata["Width"] is None and metadata["Height"] is None
    add_file(disk, "big.png", size=10 * 1024 * 1024 + 5 * 1024)
    assert reader()["files"][0]["metadata"]["FileSize"] == "10.00"


def test_no_channel_secret_anywhere(client, bucket, disk):
    add_file(bucket, "in-r2.png")
    response = client.get("/api/manage/list?count=-1", **bearer(token("list")))
    text = response.content.decode()
    assert SECRET not in text and "AKIA-KEY-ID" not in text and "r2.cloudflarestorage" not in text
    metadata = response.json()["files"][0]["metadata"]
    assert (metadata["Channel"], metadata["ChannelName"]) == ("S3", "R2")
    assert not {k for k in metadata if k.startswith("S3")}


def test_newest_first_and_paged_with_start_and_count(reader, disk):
    for n in range(7):
        add_file(disk, f"f{n}.png")
    assert names(reader()) == [f"f{n}.png" for n in reversed(range(7))]
    body = reader("start=2&count=3")
    assert names(body) == ["f4.png", "f3.png", "f2.png"]
    assert (body["returnedCount"], body["totalCount"], body["directFileCount"]) == (3, 7, 7)
    assert names(reader("start=6&count=3")) == ["f0.png"]
    assert reader("start=7")["files"] == [] and reader("start=7")["totalCount"] == 7
    assert names(reader("start=-5&count=1")) == ["f6.png"]  # as ImgBed: a negative start is 0
    assert len(reader("count=-1")["files"]) == 7
    assert len(reader("count=-1&start=5")["files"]) == 7  # all of them, whatever start says
    assert len(reader("count=")["files"]) == 7  # empty: the default, 50


def test_the_default_page_is_fifty(reader, disk):
    for n in range(55):
        add_file(disk, f"p{n}.png")
    body = reader()
    assert body["returnedCount"] == 50 and body["totalCount"] == 55 and body["directFileCount"] == 55


@pytest.mark.parametrize("query", ["count=0", "count=-2", "count=ten", "start=x", "count=1.5"])
def test_bad_numbers_are_refused_in_words(client, disk, query):
    response = client.get(f"/api/manage/list?{query}", **bearer(token("list")))
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert query.split("=")[0] in response.json()["error"]


def test_sum_counts_the_tree_with_the_filters(reader, disk):
    add_file(disk, "a.png")
    add_file(disk, "d/b.png")
    add_file(disk, "d/e/c.mp4", content_type="video/mp4")
    body = reader("count=-1&sum=true")
    assert list(body) == ["sum", "indexLastUpdated"] and body["sum"] == 3
    assert reader("count=-1&sum=true&dir=d")["sum"] == 2
    assert reader("count=-1&sum=true&fileType=video")["sum"] == 1
    assert "files" in reader("count=10&sum=true")  # sum only with count=-1, as ImgBed


def test_folders_immediate_children_and_counts(reader, disk):
    for public_id in ["top.png", "a/1.png", "a/2.png", "a/b/3.png", "a/b/c/4.png", "a/d/5.png", "ab/6.png"]:
        add_file(disk, public_id)
    top = reader()
    assert names(top) == ["top.png"]
    assert top["directories"] == ["a", "ab"]
    assert (top["totalCount"], top["directFileCount"], top["directFolderCount"]) == (7, 1, 2)
    a = reader("dir=a")
    assert names(a) == ["a/2.png", "a/1.png"]
    assert a["directories"] == ["a/b", "a/d"]
    assert (a["totalCount"], a["directFileCount"], a["directFolderCount"], a["returnedCount"]) == (5, 2, 2, 2)
    recursive = reader("dir=a&recursive=true")
    assert names(recursive) == ["a/d/5.png", "a/b/c/4.png", "a/b/3.png", "a/2.png", "a/1.png"]
    assert recursive["directories"] == ["a/b", "a/d"] and recursive["returnedCount"] == 5
    assert recursive["directFileCount"] == 2
    assert reader("dir=a/b")["directories"] == ["a/b/c"]
    assert names(reader("recursive=true&count=2")) == ["ab/6.png", "a/d/5.png"]
    nothing = reader("dir=nowhere")
    assert nothing["files"] == [] and nothing["directories"] == [] and nothing["totalCount"] == 0


@pytest.mark.parametrize("given", ["a/b", "/a/b", "a/b/", "//a//b//", "a\\b", "\\a\\b\\"])
def test_dir_is_normalised_as_imgbed_does(reader, disk, given):
    add_file(disk, "a/b/x.png")
    add_file(disk, "a/bc/y.png")  # a sibling that only shares the name's start
    body = reader(f"dir={given}")
    assert names(body) == ["a/b/x.png"]


def test_dotdot_in_dir_becomes_an_underscore(reader, disk):
    add_file(disk, "_/x.png")
    add_file(disk, "secret.png")
    assert names(reader("dir=..")) == ["_/x.png"]
    assert names(reader("dir=../")) == ["_/x.png"]


def test_search_matches_the_name_or_the_id_ignoring_case(reader, disk):
    add_file(disk, "holiday/1_IMG.png", original_name="Beach Day.png")
    add_file(disk, "work/2_slide.png", original_name="quarterly.png")
    add_file(disk, "work/3_other.png", original_name="notes.png")
    assert names(reader("search=beach&recursive=true")) == ["holiday/1_IMG.png"]
    assert names(reader("search=HOLIDAY&recursive=true")) == ["holiday/1_IMG.png"]
    assert names(reader("search=SLIDE&recursive=true")) == ["work/2_slide.png"]
    body = reader("search=o&recursive=true")
    assert len(body["files"]) == 3
    # Only the folders holding a match are listed.
    assert reader("search=beach")["directories"] == ["holiday"]
    assert reader("search=%20beach%20&recursive=true")["totalCount"] == 1  # trimmed


def test_channel_by_kind_with_imgbeds_names(reader, disk, bucket):
    add_file(disk, "on-disk.png")
    add_file(bucket, "in-r2.png")
    for value in ["s3", "S3", "CloudflareR2", "cfr2"]:
        assert names(reader(f"channel={value}")) == ["in-r2.png"], value
    assert names(reader("channel=local")) == ["on-disk.png"]
    assert names(reader("channel=Local")) == ["on-disk.png"]
    assert names(reader("channel=local,s3")) == ["in-r2.png", "on-disk.png"]
    assert reader("channel=webdav")["files"] == []
    assert reader("channel=WebDAV")["files"] == []
    assert reader("channel=TelegramNew")["files"] == []  # ImgBed's, not a kind here: no file


def test_an_unknown_channel_kind_is_refused(client, disk):
    response = client.get("/api/manage/list?channel=dropbox", **bearer(token("list")))
    assert response.status_code == 400 and "dropbox" in response.json()["error"]


def test_channel_name_alone_or_as_type_and_name(reader, disk, bucket):
    add_file(disk, "on-disk.png")
    add_file(bucket, "in-r2.png")
    assert names(reader("channelName=R2")) == ["in-r2.png"]
    assert names(reader("channelName=S3:R2")) == ["in-r2.png"]
    assert names(reader("channelName=CloudflareR2:R2")) == ["in-r2.png"]
    assert reader("channelName=Local:R2")["files"] == []
    assert names(reader("channelName=Disk,R2")) == ["in-r2.png", "on-disk.png"]
    assert reader("channelName=nothing")["files"] == []
    assert names(reader("channel=s3&channelName=Disk")) == []  # both parameters must match


def test_list_type_access_status_and_label(reader, disk):
    normal = add_file(disk, "normal.png")
    white = add_file(disk, "white.png", list_type="White")
    block = add_file(disk, "block.png", list_type="Block")
    assert names(reader("listType=None")) == [normal.public_id]
    assert names(reader("listType=White")) == [white.public_id]
    assert names(reader("listType=Block,White")) == [block.public_id, white.public_id]
    assert names(reader("accessStatus=blocked")) == [block.public_id]
    assert names(reader("accessStatus=normal")) == [white.public_id, normal.public_id]
    assert len(reader("accessStatus=normal,blocked")["files"]) == 3
    assert len(reader("label=normal")["files"]) == 3  # no moderation here: every file is "normal"
    assert reader("label=adult,teen")["files"] == []
    assert reader("label=adult")["directories"] == [] and reader("label=adult")["totalCount"] == 0


@pytest.mark.parametrize("query", ["listType=none", "fileType=pictures", "accessStatus=hidden", "label=kids"])
def test_unknown_filter_values_are_refused(client, disk, query):
    response = client.get(f"/api/manage/list?{query}", **bearer(token("list")))
    assert response.status_code == 400
    assert query.split("=")[1] in response.json()["error"]


def test_file_type_by_mime_prefix(reader, disk):
    add_file(disk, "p.png")
    add_file(disk, "s.svg", content_type="image/svg+xml")
    add_file(disk, "v.mp4", content_type="video/mp4")
    add_file(disk, "a.mp3", content_type="audio/mpeg")
    add_file(disk, "d.pdf", content_type="application/pdf")
    assert names(reader("fileType=image")) == ["s.svg", "p.png"]
    assert names(reader("fileType=video")) == ["v.mp4"]
    assert names(reader("fileType=audio")) == ["a.mp3"]
    assert names(reader("fileType=other")) == ["d.pdf"]
    assert names(reader("fileType=video,other")) == ["d.pdf", "v.mp4"]


def test_include_tags_all_of_and_exclude_tags_none_of(reader, disk):
    both = add_file(disk, "both.png")
    cat = add_file(disk, "cat.png")
    dog = add_file(disk, "d/dog.png")
    add_file(disk, "none.png")
    tags.apply(both, "set", ["cat", "dog"])
    tags.apply(cat, "set", ["cat"])
    tags.apply(dog, "set", ["dog"])
    assert names(reader("includeTags=cat")) == ["cat.png", "both.png"]
    assert names(reader("includeTags=cat,dog")) == ["both.png"]
    assert names(reader("includeTags=%20CAT%20,Dog")) == ["both.png"]  # normalised like stored tags
    assert names(reader("excludeTags=dog")) == ["none.png", "cat.png"]
    assert names(reader("excludeTags=cat,dog")) == ["none.png"]
    assert names(reader("includeTags=cat&excludeTags=dog")) == ["cat.png"]
    assert names(reader("includeTags=unknown")) == []
    assert names(reader("excludeTags=unknown")) == ["none.png", "cat.png", "both.png"]
    assert reader("includeTags=dog")["directories"] == ["d"]
    assert reader("includeTags=cat")["directories"] == []


def test_a_bad_tag_in_a_filter_is_named(client, disk):
    response = client.get("/api/manage/list?includeTags=ok,not%20ok", **bearer(token("list")))
    assert response.status_code == 400
    body = response.json()
    assert body["invalidTags"] == ["not ok"] and "'not ok'" in body["error"]


def test_deleted_and_arriving_files_are_never_listed(reader, disk):
    kept = add_file(disk, "kept.png")
    gone = add_file(disk, "gone/x.png")
    lifecycle.delete(gone)
    add_file(disk, "arriving/y.png", receiving=True, status=StoredFile.Status.PENDING)
    body = reader("recursive=true")
    assert names(body) == [kept.public_id]
    assert body["directories"] == [] and body["totalCount"] == 1
    assert reader("count=-1&sum=true")["sum"] == 1


def test_pending_and_failed_files_are_listed_their_links_work(reader, disk):
    add_file(disk, "pending.png", status=StoredFile.Status.PENDING)
    add_file(disk, "failed.png", status=StoredFile.Status.FAILED)
    assert names(reader()) == ["failed.png", "pending.png"]


def test_many_folders_at_the_top(reader, disk):
    """The top's folders come from one index seek per folder: every one of them, once."""
    expected = set()
    for n in range(30):
        folder = f"f{n:02d}" + ("-x" if n % 3 == 0 else "") + ("/deep/er" if n % 2 else "")
        add_file(disk, f"{folder}/file.png")
        add_file(disk, f"{folder}/other.png")
        expected.add(folder.split("/")[0])
    add_file(disk, "f05.x/file.png")  # "." and "-" sort before "/"
    expected.add("f05.x")
    body = reader()
    assert body["directories"] == sorted(expected)
    assert body["directFolderCount"] == len(expected) and body["totalCount"] == 61
