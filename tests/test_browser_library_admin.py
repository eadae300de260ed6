"""Staff open the file list as a gallery, tick files, tag them and move them with the batch actions,
and read each file's outcome; the moved file's old link leads to the new one, which serves the
same bytes from the local channel it was stored on."""

import pytest

from tests.channels import local_channel
from tests.files import png
from tests.manage_support import add_file, upload_and_store, upload_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    return settings.SITE_URL


def outcomes(page):
    rows = page.locator("#batch-outcomes tr.outcome")
    return {
        rows.nth(i).get_attribute("data-file-id"): rows.nth(i).locator("td").nth(1).inner_text().strip()
        for i in range(rows.count())
    }


def tick(page, *file_ids):
    for file_id in file_ids:
        page.locator(f'li.card[data-file-id="{file_id}"] input.action-select').check()


def run(page, action_label):
    page.select_option("#changelist-form select[name=action]", label=action_label)
    page.click("#changelist-form button[name=index]")
    page.wait_for_selector("#batch-form")


def test_tag_and_move_files_from_the_gallery(page, site_url, admin_user, client, tmp_path):
    upload_code()
    disk = local_channel(tmp_path / "files", name="Disk", health="connected")
    one, two = png(3000, seed=1, width=40, height=30), png(3000, seed=2, width=40, height=30)
    upload_and_store(client, one, name="one.png", folder="inbox")
    upload_and_store(client, two, name="two.png", folder="inbox")
    upload_and_store(client, png(100, seed=3), name="two.png", folder="trips")  # trips/two.png is taken
    add_file(disk, "inbox/notes.txt", content_type="text/plain")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{site_url}/admin/login/?next=/admin/uploads/storedfile/%3Ffolder%3Dinbox")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site_url}/admin/uploads/storedfile/?folder=inbox")
    page.get_by_role("link", name="Gallery", exact=True).click()
    page.wait_for_url(f"{site_url}/admin/uploads/storedfile/?folder=inbox&view=gallery")

    assert page.locator("li.card").count() == 3
    # The thumbnails are the files themselves, scaled by the browser; the text file is a tile.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.eval_on_selector_all("#gallery img", "imgs => imgs.map(i => i.naturalWidth)") == [40, 40]
    assert page.locator('li.card[data-file-id="inbox/notes.txt"] .tile').inner_text() == "TXT"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    page.check("#gallery-toggle")
    assert page.locator("span.action-counter").inner_text() == "3 of 3 selected"
    assert page.locator("li.card input.action-select:checked").count() == 3
    page.uncheck("#gallery-toggle")
    assert page.locator("li.card input.action-select:checked").count() == 0

    tick(page, "inbox/one.png", "inbox/two.png")
    assert page.locator("span.action-counter").inner_text() == "2 of 3 selected"
    assert page.locator("li.card.selected").count() == 2
    run(page, "Tag…")
    page.check("#batch-form input[name=change][value=add]")
    page.fill("#batch-form input[name=names]", "Holiday sea")
    page.click("#batch-form input[type=submit]")
    page.wait_for_selector("#batch-outcomes")
    assert outcomes(page) == {
        "inbox/one.png": "Tags now: holiday, sea.",
        "inbox/two.png": "Tags now: holiday, sea.",
    }

    page.click("#batch-back")
    page.wait_for_url(f"{site_url}/admin/uploads/storedfile/?folder=inbox&view=gallery")
    tags = page.locator('li.card[data-file-id="inbox/one.png"] .card-tags li')
    assert tags.all_inner_texts() == ["holiday", "sea"]

    tick(page, "inbox/one.png", "inbox/two.png")
    run(page, "Move to a folder…")
    page.fill("#batch-form input[name=destination]", "trips")
    page.click("#batch-form input[type=submit]")
    page.wait_for_selector("#batch-outcomes")
    assert outcomes(page) == {
        "inbox/one.png": "Moved to trips/one.png; its old link leads there.",
        "inbox/two.png": "Refused: A file with the id trips/two.png already exists.",
    }
    assert page.locator("#batch-summary").inner_text() == "1 done, 0 unchanged, 1 refused, of 2 files."

    old = page.request.get(f"{site_url}/file/inbox/one.png", max_redirects=0)
    assert old.status == 301 and old.headers["location"] == "/file/trips/one.png"
    new = page.request.get(f"{site_url}/file/trips/one.png")
    assert new.status == 200 and new.body() == one
    assert page.request.get(f"{site_url}/file/inbox/one.png").body() == one
    assert page.request.get(f"{site_url}/file/inbox/two.png").body() == two  # refused: still there

    # Back in the gallery, the folder shows what stayed.
    page.click("#batch-back")
    page.wait_for_url(f"{site_url}/admin/uploads/storedfile/?folder=inbox&view=gallery")
    assert sorted(page.locator("li.card").evaluate_all("cards => cards.map(c => c.dataset.fileId)")) == [
        "inbox/notes.txt",
        "inbox/two.png",
    ]


def test_select_every_matching_file_across_the_gallery_pages(
    page, site_url, admin_user, tmp_path, monkeypatch
):
    from django.contrib import admin

    from uploads.models import StoredFile

    monkeypatch.setattr(admin.site._registry[StoredFile], "list_per_page", 2)
    disk = local_channel(tmp_path / "files", name="Disk", health="connected")
    for name in ["a", "b", "c"]:
        add_file(disk, f"many/{name}.png")
    add_file(disk, "other/d.png")

    page.goto(f"{site_url}/admin/login/?next=/admin/uploads/storedfile/%3Ffolder%3Dmany%26view%3Dgallery")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site_url}/admin/uploads/storedfile/?folder=many&view=gallery")
    assert page.locator("li.card").count() == 2

    question = page.locator("div.actions span.question a")
    assert not question.is_visible()
    page.check("#gallery-toggle")
    assert question.inner_text() == "Select all 3 files"
    question.click()
    assert page.locator("div.actions span.clear").is_visible()
    run_now = page.locator("#changelist-form select[name=action]")
    run_now.select_option(label="Block (served to no one)")
    page.click("#changelist-form button[name=index]")
    page.wait_for_selector("#batch-outcomes")
    assert outcomes(page) == {f"many/{n}.png": "Now blocked (was normal)." for n in "abc"}
    assert StoredFile.objects.get(public_id="other/d.png").list_type == StoredFile.ListType.NONE
