"""An uploader drops two files on the upload page, copies a Markdown link and opens it."""

import re

import pytest

from channels.models import Channel
from tests.browser import drop
from tests.files import png
from uploads.models import StoredFile, UploadCode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    return settings.SITE_URL


def test_drop_two_files_copy_markdown_open_image(page, site_url, channel, onedrive_settings, start_worker):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    code = UploadCode(label="friends")
    code.set_code("sesame")
    code.save()
    start_worker()
    first, second = png(40_000), png(300_000)

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url)
    page.goto(site_url + "/")
    page.fill("#auth-code", "sesame")
    page.dispatch_event("#auth-code", "change")
    drop(page, "#drop-zone", [("first.png", "image/png", first), ("second photo.png", "image/png", second)])

    page.wait_for_selector("#results .result >> nth=1")
    assert page.locator("#results .result progress").count() == 2  # a bar per file while it is sent
    page.wait_for_function("document.querySelectorAll('#results .result.done').length === 2")
    assert page.locator("#results .result.failed").count() == 0

    row = page.locator("#results .result", has_text="second photo.png")
    row.locator("[data-format=markdown] button").click()
    markdown = page.evaluate("navigator.clipboard.readText()")
    match = re.fullmatch(r"!\[second photo\.png\]\((http://[^)]+)\)", markdown)
    assert match, markdown
    url = match.group(1)
    assert url.startswith(site_url + "/file/")
    assert row.locator("[data-format=bbcode] input").input_value() == f"[img]{url}[/img]"

    assert page.evaluate("localStorage.getItem('imgbed.authCode')") == "sesame"  # asked once, remembered
    response = page.goto(url)
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert response.body() == second
    assert StoredFile.objects.count() == 2


def test_wrong_code_is_shown_per_file(page, site_url, channel, onedrive_settings):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    code = UploadCode(label="friends")
    code.set_code("sesame")
    code.save()
    page.goto(site_url + "/")
    page.fill("#auth-code", "wrong")
    page.set_input_files(
        "#file-input", files=[{"name": "a.png", "mimeType": "image/png", "buffer": png(100)}]
    )
    page.wait_for_selector("#results .result.failed")
    assert "auth code is wrong" in page.inner_text("#results .result .error")
    assert not StoredFile.objects.exists()
