"""A visitor opens a public folder: sees exactly its public files, opens one large, moves through
them with the arrow keys, closes it, and copies a file's link."""

import pytest
import requests
from playwright.sync_api import expect

from tests.channels import local_channel
from tests.files import png
from tests.manage_support import add_file, upload_and_store, upload_code
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads.models import StoredFile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    return settings.SITE_URL


@pytest.fixture
def gallery(client, tmp_path, site_url):
    """Real images in a public folder (one of them blocked), a PDF's row, a subfolder, and a
    folder that is not public. Only this site's pages may show its files: the page's thumbnails
    must still load."""
    configure(public_browse=True, public_browse_folders="gallery", refuse_without_referer=True)
    disk = local_channel(tmp_path / "files", name="Disk", health="connected")
    upload_code()
    wide = upload_and_store(client, png(500, width=48, height=27), name="wide.png", folder="gallery")
    tall = upload_and_store(client, png(500, width=27, height=48), name="tall.png", folder="gallery")
    square = upload_and_store(client, png(500, width=32, height=32), name="square.png", folder="gallery")
    blocked = upload_and_store(client, png(500, width=40, height=40), name="blocked.png", folder="gallery")
    StoredFile.objects.filter(pk=blocked.pk).update(list_type=StoredFile.ListType.BLOCK)
    upload_and_store(client, png(500, width=20, height=20), name="hidden.png", folder="private")
    upload_and_store(client, png(500, width=20, height=20), name="deep.png", folder="gallery/sub")
    report = add_file(disk, "gallery/report.pdf", content_type="application/pdf")  # a day old
    return {"images": [square, tall, wide], "report": report}  # newest first


def test_a_visitor_browses_a_public_folder(page, site_url, gallery):
    images = gallery["images"]
    page.set_viewport_size({"width": 1280, "height": 800})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url)
    page.goto(f"{site_url}/browse/gallery/")

    # Exactly the public files: not the blocked one, not the one in a folder that is not public.
    shown = page.locator(".grid .tile .name").all_inner_texts()
    assert shown == ["square.png", "tall.png", "wide.png", "report.pdf"]
    assert page.locator(".subfolders a").all_inner_texts() == ["sub/"]

    thumbs = page.locator(".grid img")
    assert thumbs.count() == 3
    for n, stored in enumerate(images):
        thumb = thumbs.nth(n)
        assert thumb.get_attribute("src") == f"/file/{stored.public_id}"
        assert thumb.get_attribute("loading") == "lazy"
        assert (thumb.get_attribute("width"), thumb.get_attribute("height")) == (
            str(stored.width),
            str(stored.height),
        )
    # The thumbnails are the originals, loaded from this site's page (a Referer the site accepts).
    page.wait_for_function(
        "[...document.querySelectorAll('.grid img')].every(i => i.complete && i.naturalWidth)"
    )
    assert page.evaluate("[...document.querySelectorAll('.grid img')].map(i => i.naturalWidth)") == [
        32,
        27,
        48,
    ]

    # A file that is not an image: a labelled tile linking to it.
    other = page.locator(".thumb.other")
    assert other.locator(".label").inner_text() == "PDF"
    assert other.get_attribute("href") == f"/file/{gallery['report'].public_id}"

    # The grid has several columns on a wide screen.
    tops = page.evaluate(
        "[...document.querySelectorAll('.grid .tile')].map(t => t.getBoundingClientRect().top)"
    )
    assert len(set(tops)) == 1, tops

    # The lightbox: a click opens it large, the arrows move, Esc closes.
    dialog = page.locator("#lightbox")
    thumbs.nth(1).click()
    assert dialog.is_visible()
    large = dialog.locator("img")
    assert large.get_attribute("src") == f"/file/{images[1].public_id}"
    assert dialog.locator(".name").inner_text() == "tall.png"
    page.wait_for_function("document.querySelector('#lightbox img').naturalWidth === 27")
    assert large.bounding_box()["height"] > 400  # large: the window's height, not the file's 48 px
    page.keyboard.press("ArrowRight")
    assert large.get_attribute("src") == f"/file/{images[2].public_id}"
    page.keyboard.press("ArrowRight")  # round to the first
    assert large.get_attribute("src") == f"/file/{images[0].public_id}"
    page.keyboard.press("ArrowLeft")
    assert dialog.locator(".name").inner_text() == "wide.png"
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    # A click beside the image closes it too.
    thumbs.nth(0).click()
    assert dialog.is_visible()
    page.mouse.click(640, 10)
    assert dialog.is_hidden()

    # Copy a file's link: the page says so, and the clipboard holds the link, which serves the file.
    tile = page.locator(".grid .tile", has_text="tall.png")
    tile.get_by_role("button", name="Copy link").click()
    link = f"{site_url}/file/{images[1].public_id}"
    message = page.locator("#gallery-message")
    # The message follows the clipboard's promise: waited for, not read at once.
    expect(message).to_be_visible()
    expect(message).to_have_text(f"Link copied: {link}")
    assert page.evaluate("navigator.clipboard.readText()") == link
    # Only this site's pages may show its files (the fixture's setting): a link followed from one.
    served = requests.get(link, headers={"Referer": f"{site_url}/browse/gallery/"}, timeout=10)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"


def test_a_narrow_screen_gets_a_grid_that_fits(page, site_url, gallery):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{site_url}/browse/gallery/")
    assert page.locator(".grid .tile").count() == 4
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_folders_that_are_not_public_say_so(page, site_url, gallery):
    response = page.goto(f"{site_url}/browse/private/")
    assert response.status == 403
    assert "not open to public browsing" in page.inner_text("body")
    assert page.locator("img").count() == 0
    # The way back: the folders that are public.
    page.get_by_role("link", name="gallery/").click()
    page.wait_for_url(f"{site_url}/browse/gallery/")
    assert page.locator(".grid .tile").count() == 4
