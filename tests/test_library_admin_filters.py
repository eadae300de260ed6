"""The file list's filters: tags (all of, none of), the access list and the folder tree, with
and without subfolders; a value that cannot be used is said in words."""

import pytest

from library import tags
from tests.admin_pages import listed_ids, parse
from tests.channels import local_channel
from tests.manage_support import add_file
from uploads import lifecycle
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

LIST = "/admin/uploads/storedfile/"


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


def shown(client, query) -> set[str]:
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200, response
    return set(listed_ids(response))


def errors(response) -> list[str]:
    return [
        li.text() for li in parse(response).all("ul", cls="messagelist") for li in li.all("li", cls="error")
    ]


@pytest.fixture
def tagged(disk):
    for public_id, names in [
        ("both.png", ["cat", "sea"]),
        ("cat.png", ["cat"]),
        ("sea.png", ["sea"]),
        ("none.png", []),
        ("other.png", ["dog"]),
    ]:
        tags.apply(add_file(disk, public_id), "set", names)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("tags=cat,sea", {"both.png"}),
        ("tags=cat+sea", {"both.png"}),  # spaces between tags, as typed into the box
        ("tags=CAT", {"both.png", "cat.png"}),
        ("not_tags=sea", {"cat.png", "none.png", "other.png"}),
        ("not_tags=sea,cat", {"none.png", "other.png"}),
        ("tags=cat&not_tags=sea", {"cat.png"}),
        ("tags=nobody", set()),  # a tag no file has: nothing, and no error
        ("not_tags=nobody", {"both.png", "cat.png", "sea.png", "none.png", "other.png"}),
        ("tags=&not_tags=", {"both.png", "cat.png", "sea.png", "none.png", "other.png"}),
    ],
)
def test_tag_filter_all_of_and_none_of(staff_client, tagged, query, expected):
    assert shown(staff_client, query) == expected


def test_tag_filter_and_the_gallery_show_the_same_files(staff_client, tagged):
    assert shown(staff_client, "tags=cat&view=gallery") == {"both.png", "cat.png"}


def test_a_bad_tag_in_the_filter_is_said_in_words(staff_client, tagged):
    response = staff_client.get(f"{LIST}?tags=cat,sea!")
    assert response.status_code == 200
    assert listed_ids(response) == []
    assert errors(response) == [
        "Tag filter: Not a valid tag: 'sea!'. A tag is up to 64 letters, digits, _, - or CJK characters. "
        "No files are shown until the filter is corrected."
    ]
    # The box still holds what was typed, to correct it.
    assert parse(response).one("input", id="tag-filter-all").attrs["value"] == "cat sea!"


def test_the_tag_filter_form_keeps_the_other_filters(staff_client, tagged):
    page = parse(staff_client.get(f"{LIST}?folder=a&view=gallery&q=x&tags=cat"))
    form = page.one("form", cls="tag-filter")
    hidden = {i.attrs["name"]: i.attrs["value"] for i in form.all("input", type="hidden")}
    assert hidden == {"folder": "a", "view": "gallery", "q": "x"}
    assert [o.attrs["value"] for o in page.one("datalist", id="tag-suggestions").all("option")] == [
        "cat",
        "dog",
        "sea",
    ]


def test_access_list_filter(staff_client, disk):
    add_file(disk, "normal.png")
    add_file(disk, "old-normal.png", list_type="")  # ImgBed's rows with no list type at all
    add_file(disk, "allowed.png", list_type=StoredFile.ListType.WHITE)
    add_file(disk, "blocked.png", list_type=StoredFile.ListType.BLOCK)
    assert shown(staff_client, "access=normal") == {"normal.png", "old-normal.png"}
    assert shown(staff_client, "access=allowed") == {"allowed.png"}
    assert shown(staff_client, "access=blocked") == {"blocked.png"}
    response = staff_client.get(f"{LIST}?access=grey")
    assert listed_ids(response) == []
    assert errors(response) == [
        "Access list filter: 'grey' is not one of normal, allowed, blocked. "
        "No files are shown until the filter is corrected."
    ]


@pytest.fixture
def tree(disk):
    for public_id in ["top.png", "a/1.png", "a/2.png", "a/b/3.png", "a/b/c/4.png", "ab/5.png", "z/y/6.png"]:
        add_file(disk, public_id)
    lifecycle.delete(add_file(disk, "a/gone.png"))


@pytest.mark.parametrize(
    "query, expected",
    [
        ("folder=a", {"a/1.png", "a/2.png", "a/gone.png"}),
        ("folder=a&subfolders=1", {"a/1.png", "a/2.png", "a/gone.png", "a/b/3.png", "a/b/c/4.png"}),
        ("folder=a/b", {"a/b/3.png"}),
        ("folder=a/b/&subfolders=1", {"a/b/3.png", "a/b/c/4.png"}),
        ("folder=/", {"top.png"}),
        ("folder=z", set()),  # only subfolders in it
        ("folder=z&subfolders=1", {"z/y/6.png"}),
        ("folder=a&status=deleted", {"a/gone.png"}),
    ],
)
def test_folder_filter_with_and_without_subfolders(staff_client, tree, query, expected):
    assert shown(staff_client, query) == expected


def tree_rows(response):
    filters = parse(response).one("ul", cls="folder-tree")
    return [
        (
            li.attrs["data-folder"],
            li.one("span", cls="folder-count").text(),
            "selected" in li.classes,
        )
        for li in filters.all("li", cls="folder")
    ]


def test_the_tree_opens_the_way_to_the_chosen_folder_with_its_counts(staff_client, tree):
    # Closed: the top-level folders, each with its own files / with its subfolders (deleted not counted).
    assert tree_rows(staff_client.get(LIST)) == [
        ("a", "2 / 4", False),
        ("ab", "1", False),
        ("z", "0 / 1", False),
    ]
    opened = staff_client.get(f"{LIST}?folder=a/b")
    assert tree_rows(opened) == [
        ("a", "2 / 4", False),
        ("a/b", "1 / 2", True),
        ("a/b/c", "1", False),
        ("ab", "1", False),
        ("z", "0 / 1", False),
    ]
    page = parse(opened)
    assert (
        page.one("li", cls="folder", **{"data-folder": "a/b/c"}).one("a").attrs["href"] == "?folder=a%2Fb%2Fc"
    )
    everything = page.one("ul", cls="folder-tree").all("li")
    first = next(everything)
    assert first.text() == "All folders 7"
    assert next(everything).text() == "Top level 1"


def test_the_subfolders_choice_stays_while_moving_through_the_tree(staff_client, tree):
    page = parse(staff_client.get(f"{LIST}?folder=a&subfolders=1&view=gallery"))
    link = page.one("li", cls="folder", **{"data-folder": "a/b"}).one("a").attrs["href"]
    assert link == "?folder=a%2Fb&subfolders=1&view=gallery"
    toggle = page.one("p", cls="folder-subfolders").one("a")
    assert toggle.attrs["aria-checked"] == "true"
    assert toggle.attrs["href"] == "?folder=a&view=gallery"


def test_the_folder_tree_is_one_query_however_many_folders(staff_client, disk):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(3):
        add_file(disk, f"f{i}/x.png")
    with CaptureQueriesContext(connection) as few:
        staff_client.get(LIST)
    for i in range(3, 40):
        add_file(disk, f"f{i}/sub{i}/x.png")
    with CaptureQueriesContext(connection) as many:
        assert len(tree_rows(staff_client.get(LIST))) == 40
    assert len(many) == len(few)
    grouped = [q["sql"] for q in many if "GROUP BY" in q["sql"] and '"folder"' in q["sql"]]
    assert len(grouped) == 1, grouped


def test_a_folder_with_many_subfolders_shows_the_first_and_the_way_to_the_chosen_one(
    staff_client, disk, monkeypatch
):
    from library import admin_filters

    monkeypatch.setattr(admin_filters, "MAX_SUBFOLDERS", 2)
    for name in ["s1", "s2", "s3", "s4", "s10"]:
        add_file(disk, f"many/{name}/x.png")
    rows = parse(staff_client.get(f"{LIST}?folder=many/s4")).one("ul", cls="folder-tree")
    assert [li.attrs.get("data-folder") or li.text() for li in rows.all("li", cls="folder")] + [
        li.text() for li in rows.all("li", cls="folder-more")
    ] == ["many", "many/s1", "many/s10", "many/s4", "and 2 more: type the path below"]


def test_the_go_to_folder_box_keeps_the_other_filters(staff_client, tree):
    form = parse(staff_client.get(f"{LIST}?folder=a&view=gallery&tags=x")).one("form", cls="folder-go")
    assert {i.attrs["name"]: i.attrs["value"] for i in form.all("input", type="hidden")} == {
        "view": "gallery",
        "tags": "x",
    }
    assert form.one("input", name="folder").attrs["value"] == "a"


def test_show_counts_works_beside_the_tree_and_the_tag_filter(staff_client, tagged):
    response = staff_client.get(f"{LIST}?_facets=True&access=normal&tags=cat")
    assert response.status_code == 200
    assert set(listed_ids(response)) == {"both.png", "cat.png"}
    access = [
        a.text()
        for a in parse(response).one("nav", id="changelist-filter").all("a")
        if "access=" in a.attrs["href"]
    ]
    assert "Normal (2)" in access
