"""Tags: ImgBed's spelling rules, set / add / remove on one file or many, and autocomplete over
every tag (ImgBed looks at the newest 1,000 files only)."""

import datetime
import json

import pytest
from django.utils import timezone

from library import tags
from library.models import FileTag, Tag
from tests.channels import local_channel
from tests.manage_support import add_file, bearer, token
from uploads import lifecycle
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


@pytest.fixture
def manager(client):
    headers = bearer(token("manage"))

    def call(method, path, body=None):
        if body is None:
            return getattr(client, method)(path, **headers)
        data = body if isinstance(body, str) else json.dumps(body)
        return getattr(client, method)(path, data, content_type="application/json", **headers)

    return call


def stored_tags(public_id):
    return tags.of_file(StoredFile.objects.get(public_id=public_id).pk)


def test_normalisation_lower_trimmed_unique_in_order():
    given = [" Cat ", "cat", "DOG", "猫", "ねこ", "ネコ", "고양이", "a_b-c", "Z9", "dog"]
    assert tags.normalise(given) == ["cat", "dog", "猫", "ねこ", "ネコ", "고양이", "a_b-c", "z9"]
    assert tags.normalise([]) == []


@pytest.mark.parametrize("bad", ["a b", "a.b", "#x", "", "   ", "tag!", "ü", "x" * 65, 5, None, ["x"]])
def test_anything_else_is_refused_naming_it(bad):
    with pytest.raises(tags.BadTags) as raised:
        tags.normalise(["fine", bad])
    assert raised.value.bad == [bad]
    assert repr(bad) in str(raised.value)


def test_set_add_remove_through_the_api(manager, disk):
    add_file(disk, "a/x.png")
    response = manager("post", "/api/manage/tags/a/x.png", {"tags": ["Sea", "sun"]})  # set by default
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["success", "fileId", "action", "tags", "metadata"]
    assert (body["success"], body["fileId"], body["action"], body["tags"]) == (
        True,
        "a/x.png",
        "set",
        ["sea", "sun"],
    )
    assert body["metadata"]["Tags"] == ["sea", "sun"] and body["metadata"]["Directory"] == "a/"
    add = manager("post", "/api/manage/tags/a/x.png", {"action": "add", "tags": ["SUN", "sand"]}).json()
    assert add["tags"] == ["sea", "sun", "sand"]
    remove = manager("post", "/api/manage/tags/a/x.png", {"action": "remove", "tags": ["sea", "none"]}).json()
    assert remove["tags"] == ["sun", "sand"]
    reorder = manager("post", "/api/manage/tags/a/x.png", {"action": "set", "tags": ["sand", "sun"]}).json()
    assert reorder["tags"] == ["sand", "sun"] and stored_tags("a/x.png") == ["sand", "sun"]
    got = manager("get", "/api/manage/tags/a/x.png")
    assert got.status_code == 200
    assert got.json() == {"success": True, "fileId": "a/x.png", "tags": ["sand", "sun"]}
    assert manager("post", "/api/manage/tags/a/x.png", {"tags": []}).json()["tags"] == []
    assert stored_tags("a/x.png") == []
    assert Tag.objects.filter(name__in=["sea", "sun", "sand"]).count() == 3  # one row per spelling


def test_bad_tags_change_nothing_and_are_named(manager, disk):
    add_file(disk, "x.png")
    manager("post", "/api/manage/tags/x.png", {"tags": ["keep"]})
    response = manager("post", "/api/manage/tags/x.png", {"action": "add", "tags": ["ok", "not ok", "a.b"]})
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["invalidTags"] == ["not ok", "a.b"]
    assert "'not ok'" in body["error"] and "'a.b'" in body["error"]
    assert stored_tags("x.png") == ["keep"]
    assert not Tag.objects.filter(name="ok").exists()


@pytest.mark.parametrize(
    "body, phrase",
    [
        ({"action": "replace", "tags": ["a"]}, "action must be one of set, add, remove"),
        ({"tags": "a,b"}, "tags must be a list"),
        ("nonsense", "JSON"),
    ],
)
def test_bad_requests(manager, disk, body, phrase):
    add_file(disk, "x.png")
    response = manager("post", "/api/manage/tags/x.png", body)
    assert response.status_code == 400 and phrase in response.json()["error"]


def test_an_unknown_file(manager, disk):
    for method, body in (("get", None), ("post", {"tags": ["a"]})):
        response = manager(method, "/api/manage/tags/nope.png", body)
        assert response.status_code == 404
        assert response.json()["fileId"] == "nope.png" and "not found" in response.json()["error"]
    deleted = add_file(disk, "gone.png")
    lifecycle.delete(deleted)
    assert manager("get", "/api/manage/tags/gone.png").status_code == 404


def test_batch(manager, disk):
    for public_id in ["1.png", "a/2.png", "a/3.png"]:
        add_file(disk, public_id)
    response = manager("post", "/api/manage/tags/batch", {"fileIds": ["1.png", "a/2.png"], "tags": ["Trip"]})
    assert response.status_code == 200
    assert response.json() == {"success": True, "total": 2, "updated": 2, "errors": []}
    assert stored_tags("1.png") == ["trip"] and stored_tags("a/2.png") == ["trip"]
    response = manager(
        "post",
        "/api/manage/tags/batch",
        {"fileIds": ["a/2.png", "nope.png", "a/3.png"], "action": "add", "tags": ["2026"]},
    )
    assert response.status_code == 207
    assert response.json() == {
        "success": False,
        "total": 3,
        "updated": 2,
        "errors": [{"fileId": "nope.png", "error": "File not found"}],
    }
    assert stored_tags("a/2.png") == ["trip", "2026"] and stored_tags("a/3.png") == ["2026"]
    remove = manager(
        "post", "/api/manage/tags/batch", {"fileIds": ["1.png"], "action": "remove", "tags": ["trip"]}
    )
    assert remove.status_code == 200 and stored_tags("1.png") == []


def test_batch_where_every_file_is_missing_is_207_too(manager, disk):
    response = manager("post", "/api/manage/tags/batch", {"fileIds": ["x", "y"], "tags": ["a"]})
    assert response.status_code == 207
    assert response.json()["updated"] == 0 and len(response.json()["errors"]) == 2


@pytest.mark.parametrize(
    "body, phrase",
    [
        ({"fileIds": [], "tags": ["a"]}, "fileIds must be a non-empty list"),
        ({"fileIds": "1.png", "tags": ["a"]}, "fileIds must be a non-empty list"),
        ({"fileIds": [1], "tags": ["a"]}, "fileIds must be a non-empty list"),
        ({"tags": ["a"]}, "fileIds must be a non-empty list"),
        ({"fileIds": ["1.png"], "action": "toggle"}, "action must be one of"),
        ({"fileIds": ["1.png"], "tags": ["bad tag"]}, "'bad tag'"),
    ],
)
def test_batch_refusals_change_nothing(manager, disk, body, phrase):
    add_file(disk, "1.png")
    response = manager("post", "/api/manage/tags/batch", body)
    assert response.status_code == 400 and phrase in response.json()["error"]
    assert not FileTag.objects.exists()


def test_batch_caps_the_number_of_files(manager, disk):
    response = manager("post", "/api/manage/tags/batch", {"fileIds": ["x"] * 10_001, "tags": ["a"]})
    assert response.status_code == 400 and "At most 10000" in response.json()["error"]


def test_autocomplete_sees_tags_beyond_the_newest_1000_files(manager, disk):
    oldest = add_file(disk, "oldest.png", created_at=timezone.now() - datetime.timedelta(days=3650))
    tags.apply(oldest, "set", ["rare-vintage"])
    now = timezone.now()
    StoredFile.objects.bulk_create(
        [
            StoredFile(
                public_id=f"bulk/{n}.png",
                original_name=f"{n}.png",
                folder="bulk",
                remote_path=f"imgbed/bulk/{n}.png",
                size=10,
                sha256="0" * 64,
                content_type="image/png",
                channel=disk,
                status=StoredFile.Status.STORED,
                created_at=now,
            )
            for n in range(1_200)
        ]
    )
    assert StoredFile.objects.count() == 1_201
    newest_1000 = StoredFile.objects.order_by("-created_at")[:1000]
    assert oldest not in newest_1000
    response = manager("get", "/api/manage/tags/autocomplete?prefix=rare")
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "prefix": "rare",
        "tags": ["rare-vintage"],
        "total": 1,
        "hasMore": False,
    }


def test_autocomplete_prefix_limit_and_has_more(manager, disk):
    for n, names in enumerate([["photo", "phone"], ["physics", "ph-1", "other"], ["Photography"]]):
        tags.apply(add_file(disk, f"{n}.png"), "set", tags.normalise(names))
    body = manager("get", "/api/manage/tags/autocomplete?prefix=PH").json()
    assert body["tags"] == ["ph-1", "phone", "photo", "photography", "physics"]
    assert (body["prefix"], body["total"], body["hasMore"]) == ("PH", 5, False)
    limited = manager("get", "/api/manage/tags/autocomplete?prefix=ph&limit=2").json()
    assert (limited["tags"], limited["total"], limited["hasMore"]) == (["ph-1", "phone"], 2, True)
    everything = manager("get", "/api/manage/tags/autocomplete").json()
    assert everything["tags"] == ["other", "ph-1", "phone", "photo", "photography", "physics"]
    assert everything["prefix"] == "" and everything["hasMore"] is False
    assert manager("get", "/api/manage/tags/autocomplete?prefix=zz").json()["tags"] == []
    assert manager("get", "/api/manage/tags/autocomplete?prefix=%25").json()["tags"] == []  # no wildcards


@pytest.mark.parametrize("limit", ["0", "101", "-1", "many"])
def test_autocomplete_limit_is_1_to_100(manager, disk, limit):
    response = manager("get", f"/api/manage/tags/autocomplete?limit={limit}")
    assert response.status_code == 400 and "1 to 100" in response.json()["error"]
    assert manager("get", "/api/manage/tags/autocomplete?limit=100").status_code == 200
    assert manager("get", "/api/manage/tags/autocomplete?limit=1").status_code == 200


def test_tags_only_on_deleted_files_or_removed_are_not_suggested(manager, disk):
    gone = add_file(disk, "gone.png")
    tags.apply(gone, "set", ["forgotten"])
    lifecycle.delete(gone)
    kept = add_file(disk, "kept.png")
    tags.apply(kept, "set", ["former"])
    tags.apply(kept, "remove", ["former"])
    tags.apply(kept, "add", ["fresh"])
    assert manager("get", "/api/manage/tags/autocomplete?prefix=f").json()["tags"] == ["fresh"]


def test_a_file_whose_id_is_batch_is_shadowed_as_in_imgbed(manager, disk):
    add_file(disk, "batch")
    assert manager("get", "/api/manage/tags/batch").status_code == 405
    assert manager("get", "/api/manage/tags/a/batch").status_code == 404
