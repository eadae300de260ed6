"""Staff read the stored-file list on a 1280 px screen and open a file's admin page from it."""

import pytest

from uploads.models import StoredFile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "holiday-photos-from-the-summer-of-2025-at-the-seaside-with-the-whole-family-and-friends"


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    return settings.SITE_URL


def stored_file(channel, public_id, **fields):
    values = {
        "original_name": public_id.rsplit("/", 1)[-1],
        "remote_path": f"imgbed/{public_id}",
        "size": 123_456_789,
        "sha256": "0" * 64,
        "content_type": "image/png",
        "category": "image",
        "status": StoredFile.Status.STORED,
        **fields,
    }
    return StoredFile.objects.create(public_id=public_id, channel=channel, **values)


def test_file_list_fits_1280_and_links_each_file(page, site_url, admin_user, channel):
    stored_file(channel, "1795930639360_small.png")
    stored_file(channel, f"2026/summer/1795930639361_{LONG}.png")
    target = stored_file(
        channel,
        f"1795930639362_{LONG}-{LONG}.pdf",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        category="document",
        status=StoredFile.Status.FAILED,
    )
    stored_file(channel, "1795930639363_gone.png", status=StoredFile.Status.DELETED)

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{site_url}/admin/login/?next=/admin/uploads/storedfile/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site_url}/admin/uploads/storedfile/")
    page.wait_for_selector("#result_list tbody tr >> nth=3")

    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    viewport_width = page.evaluate("document.documentElement.clientWidth")
    table = page.locator("#result_list").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= viewport_width, table
    headers = page.locator("#result_list thead th")
    assert headers.count() >= 5
    for i in range(headers.count()):
        box = headers.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport_width, (headers.nth(i).inner_text(), box)

    # Each row has a link in words to its admin page; a long id is cut short and given whole on hover.
    row = page.locator("#result_list tbody tr", has=page.locator(f'[title="{target.public_id}"]'))
    link = row.get_by_role("link", name="1795930639362", exact=False)
    assert link.is_visible()
    assert link.inner_text().strip()
    link.click()
    page.wait_for_url(f"{site_url}/admin/uploads/storedfile/{target.pk}/change/")
    assert target.public_id in page.inner_text("#content")
