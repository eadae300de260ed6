"""The file list as a gallery: cards with a preview, name, size, tags and access state, whose
checkboxes feed the admin's actions; search, filters, sorting and paging keep the view."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from library import tags
from tests.admin_pages import listed_ids, parse
from tests.channels import local_channel
from tests.manage_support import add_file
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

LIST = "/admin/uploads/storedfile/"
GALLERY = f"{LIST}?view=gallery"


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


def card(page, public_id):
    return page.one("li", cls="card", **{"data-file-id": public_id})


def test_cards_show_preview_name_size_tags_and_access(staff_client, disk):
    photo = add_file(disk, "trips/2025/photo.png", size=2048, list_type=StoredFile.ListType.BLOCK)
    tags.apply(photo, "set", ["sea", "sun"])
    add_file(disk, "docs/report.pdf", content_type="application/pdf", list_type=StoredFile.ListType.WHITE)
    add_file(disk, "drawing.svg", content_type="image/svg+xml")
    add_file(disk, "gone.png", status=StoredFile.Status.DELETED)

    page = parse(staff_client.get(GALLERY))
    shown = card(page, "trips/2025/photo.png")
    image = shown.one("img")
    assert image.attrs["src"] == "/file/trips/2025/photo.png" and image.attrs["loading"] == "lazy"
    assert shown.one("a", cls="card-name").text() == "photo.png"
    assert (
        shown.one("a", cls="card-name").attrs["href"]
        == f"/admin/uploads/storedfile/{photo.pk}/change/?_changelist_filters=view%3Dgallery"
    )
    assert shown.one("span", cls="card-folder").text() == "trips/2025/"
    assert shown.one("span", cls="card-size").text() == "2.0 KB"
    assert [li.text() for li in shown.one("ul", cls="card-tags").all("li")] == ["sea", "sun"]
    assert shown.one("span", cls="badge").text() == "blocked"
    box = shown.one("input", cls="action-select")
    assert (box.attrs["name"], box.attrs["value"]) == ("_selected_action", str(photo.pk))

    pdf = card(page, "docs/report.pdf")
    assert list(pdf.all("img")) == []
    assert pdf.one("span", cls="tile").text() == "PDF"
    assert pdf.one("span", cls="badge").text() == "allowed"
    assert card(page, "drawing.svg").one("span", cls="tile").text() == "SVG"
    gone = card(page, "gone.png")
    assert gone.one("span", cls="tile").text() == "deleted"
    assert gone.one("span", cls="card-status").text() == "Deleted"
    assert card(page, "drawing.svg").one("span", cls="badge").text() == "normal"


def test_the_cards_checkboxes_are_in_the_action_form(staff_client, disk):
    files = [add_file(disk, f"{i}.png") for i in range(3)]
    page = parse(staff_client.get(GALLERY))
    form = page.one("form", id="changelist-form")
    assert sorted(int(i.attrs["value"]) for i in form.all("input", cls="action-select")) == sorted(
        f.pk for f in files
    )
    assert [o.attrs["value"] for o in form.one("select", name="action").all("option")][1:] == [
        "move_files",
        "tag_files",
        "block_files",
        "allow_files",
        "normal_files",
        "retry_uploads",
        "delete_files",
    ]


def test_the_toggle_keeps_the_filters_and_the_list_shows_tags_under_the_id(staff_client, disk):
    stored = add_file(disk, "a/x.png", list_type=StoredFile.ListType.BLOCK)
    tags.apply(stored, "set", ["sea"])
    listed = parse(staff_client.get(f"{LIST}?folder=a&q=x"))
    tools = {a.text(): a.attrs["href"] for a in listed.one("ul", cls="object-tools").all("a")}
    assert tools["Gallery"] == "?folder=a&q=x&view=gallery"
    assert tools["List"] == "?folder=a&q=x"
    assert tools["Statistics"] == "/admin/uploads/storedfile/statistics/"
    assert listed.one("span", cls="file-tags").text() == "blocked, sea"

    gallery = parse(staff_client.get(f"{LIST}?folder=a&q=x&view=gallery"))
    tools = {a.text(): a.attrs["href"] for a in gallery.one("ul", cls="object-tools").all("a")}
    assert tools["List"] == "?folder=a&q=x"
    assert gallery.one("a", cls="current").text() == "Gallery"


def test_search_sorting_and_paging_keep_the_gallery(staff_client, disk, monkeypatch):
    monkeypatch.setattr(admin.site._registry[StoredFile], "list_per_page", 2)
    for name in ["apple", "banana", "cherry", "date", "elder"]:
        add_file(disk, f"fruit/{name}.png")
    add_file(disk, "veg/carrot.png")

    first = staff_client.get(f"{GALLERY}&o=1")  # by id, A to Z
    assert listed_ids(first) == ["fruit/apple.png", "fruit/banana.png"]
    page = parse(first)
    pages = [a.attrs["href"] for a in page.one("p", cls="paginator").all("a")]
    assert "?o=1&p=2&view=gallery" in pages
    assert listed_ids(staff_client.get(f"{LIST}?o=1&p=2&view=gallery")) == [
        "fruit/cherry.png",
        "fruit/date.png",
    ]

    search = page.one("form", id="changelist-search")
    assert {i.attrs["name"]: i.attrs["value"] for i in search.all("input", type="hidden")} == {
        "o": "1",
        "view": "gallery",
    }
    found = staff_client.get(f"{GALLERY}&q=carrot")
    assert listed_ids(found) == ["veg/carrot.png"]
    # A filter's links keep the view too.
    status_links = [a.attrs["href"] for a in parse(found).one("nav", id="changelist-filter").all("a")]
    assert "?q=carrot&status__exact=stored&view=gallery" in status_links


def test_a_page_of_cards_costs_the_same_queries_for_3_or_30_files(staff_client, disk):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(GALLERY).status_code == 200
        return len(captured)

    for i in range(3):
        tags.apply(add_file(disk, f"a/{i}.png"), "set", ["x", "y"])
    few = queries()
    for i in range(3, 30):
        tags.apply(add_file(disk, f"b{i}/{i}.png"), "set", ["x", f"t{i}"])
    assert queries() == few
