"""The /browse/ pages as a visitor's browser receives them: which folders and files they show, their
pages, and what they say when a folder is not open."""

import re

import pytest

from library.public_views import PAGE_SIZE
from tests.channels import local_channel
from tests.manage_support import add_file
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


def page(client, path, status=200):
    response = client.get(path)
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "text/html; charset=utf-8"
    return response.content.decode()


def tiles(html) -> list[str]:
    return re.findall(r'<span class="name" title="([^"]*)">', html)


def links(html, css_class) -> list[str]:
    block = re.search(rf'<ul class="{css_class}"[^>]*>(.*?)</ul>', html, re.S)
    return re.findall(r'href="([^"]+)"', block.group(1)) if block else []


def test_off_unless_staff_turn_it_on(client, disk):
    add_file(disk, "a/x.png")
    for path in ("/browse/", "/browse/a/"):
        html = page(client, path, 403)
        assert "Public browsing is off" in html
        assert "Site settings" in html
        assert "x.png" not in html


def test_the_index_lists_the_public_folders_when_only_some_are(client, disk):
    configure(public_browse=True, public_browse_folders="albums/summer\nshared")
    add_file(disk, "top.png")
    html = page(client, "/browse/")
    assert links(html, "folders") == ["/browse/albums/summer/", "/browse/shared/"]
    assert "top.png" not in html


def test_the_index_is_the_top_folder_when_every_folder_is_public(client, disk):
    configure(public_browse=True)
    add_file(disk, "top.png")
    add_file(disk, "a/x.png")
    html = page(client, "/browse/")
    assert tiles(html) == ["top.png"]
    assert links(html, "subfolders") == ["/browse/a/"]


def test_a_folder_that_is_not_public_is_a_403_in_words(client, disk):
    configure(public_browse=True, public_browse_folders="open")
    add_file(disk, "closed/secret.png")
    add_file(disk, "opened/x.png")
    html = page(client, "/browse/closed/", 403)
    assert "This folder is not public" in html
    assert "not open to public browsing" in html
    assert "secret.png" not in html
    assert links(html, "folders") == ["/browse/open/"]
    page(client, "/browse/opened/", 403)  # a name that starts like a public one


def test_blocked_files_and_in_whitelist_mode_unapproved_ones_are_not_shown(client, disk):
    configure(public_browse=True)
    add_file(disk, "g/normal.png")
    add_file(disk, "g/approved.png", list_type=StoredFile.ListType.WHITE)
    add_file(disk, "g/blocked.png", list_type=StoredFile.ListType.BLOCK)
    html = page(client, "/browse/g/")
    assert tiles(html) == ["approved.png", "normal.png"]
    assert "blocked.png" not in html
    assert "2 files" in html
    configure(public_browse=True, whitelist_mode=True)
    assert tiles(page(client, "/browse/g/")) == ["approved.png"]


def test_each_tile_carries_the_records_size_and_a_link_to_copy(client, disk, site_url):
    configure(public_browse=True)
    add_file(disk, "g/pic <1>.png", width=640, height=480)
    add_file(disk, "g/song.mp3", content_type="audio/mpeg")
    html = page(client, "/browse/g/")
    img = re.search(r"<img [^>]*>", html).group(0)
    assert 'src="/file/g/pic%20%3C1%3E.png"' in img
    assert 'width="640" height="480"' in img
    assert 'loading="lazy"' in img
    assert 'alt="pic &lt;1&gt;.png"' in img
    assert f'data-copy-link="{site_url}/file/g/pic%20%3C1%3E.png"' in html
    other = re.search(r'<a class="thumb other" href="([^"]+)"[^>]*>\s*<span class="label">(\w+)</span>', html)
    assert other.groups() == ("/file/g/song.mp3", "MP3")


def test_pages_of_files_link_to_each_other(client, disk):
    configure(public_browse=True)
    for n in range(PAGE_SIZE + 5):
        add_file(disk, f"big/{n:03}.png")
    first = page(client, "/browse/big/")
    assert len(tiles(first)) == PAGE_SIZE
    assert tiles(first)[0] == f"{PAGE_SIZE + 4:03}.png"  # newest first
    assert 'rel="next" href="?page=2"' in first
    assert 'rel="prev"' not in first
    assert "page 1 of 2" in first
    second = page(client, "/browse/big/?page=2")
    assert tiles(second) == [f"{n:03}.png" for n in range(4, -1, -1)]
    assert 'rel="prev" href="?page=1"' in second
    assert 'rel="next"' not in second
    assert "No such page" in page(client, "/browse/big/?page=3", 404)
    assert "page must be a whole number" in page(client, "/browse/big/?page=two", 400)


def test_an_empty_folder_that_staff_opened_is_a_page_and_an_unknown_one_a_404(client, disk):
    configure(public_browse=True, public_browse_folders="new")
    html = page(client, "/browse/new/")
    assert "Nothing here yet" in html
    assert "No public file is in the folder new/nothing" in page(client, "/browse/new/nothing/", 404)


def test_subfolders_and_the_way_up(client, disk):
    configure(public_browse=True, public_browse_folders="a/b")
    add_file(disk, "a/b/c/d/x.png")
    html = page(client, "/browse/a/b/c/")
    assert links(html, "subfolders") == ["/browse/a/b/c/d/"]
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', html, re.S).group(0)
    # "a" is not public: named, not linked.
    assert re.findall(r'href="([^"]+)"', crumbs) == ["/browse/", "/browse/a/b/"]
    assert "<span>a</span>" in crumbs
