"""The upload page's auth code: a missing one is said on the page, and "remembered" is said only when true."""

import pytest
from playwright.sync_api import expect

from channels.models import Channel
from tests.files import png
from uploads.models import StoredFile, UploadCode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    settings.IMGBED_PUBLIC_UPLOADS = False
    return settings.SITE_URL


@pytest.fixture
def dialogs(page):
    """Every browser dialog (alert, confirm) the page opens, dismissed."""
    seen = []

    def handle(dialog):
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", handle)
    return seen


def pick(page, name="a.png"):
    page.set_input_files("#file-input", files=[{"name": name, "mimeType": "image/png", "buffer": png(100)}])


def test_no_code_is_said_on_the_page_not_in_a_dialog(page, site_url, dialogs):
    page.goto(site_url + "/")
    pick(page)
    message = page.get_by_role("alert")
    expect(message).to_be_visible()
    expect(message).to_contain_text("needs an auth code")
    assert page.evaluate("document.activeElement.id") == "auth-code"
    assert dialogs == []
    assert page.locator("#results .result").count() == 0
    assert not StoredFile.objects.exists()

    # Typing the code clears the message.
    page.fill("#auth-code", "x")
    expect(message).to_have_text("")


def test_remembered_only_once_a_code_has_worked(page, site_url, channel, onedrive_settings, dialogs):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    code = UploadCode(label="friends")
    code.set_code("sesame")
    code.save()
    page.goto(site_url + "/")
    remembered = page.get_by_text("This browser remembers the code")
    expect(remembered).to_be_hidden()

    page.fill("#auth-code", "wrong")
    pick(page)
    page.wait_for_selector("#results .result.failed")
    expect(remembered).to_be_hidden()
    assert page.evaluate("localStorage.getItem('imgbed.authCode')") is None

    page.fill("#auth-code", "sesame")
    pick(page, "b.png")
    page.wait_for_selector("#results .result.done")
    expect(remembered).to_be_visible()

    page.reload()
    expect(remembered).to_be_visible()
    assert page.input_value("#auth-code") == "sesame"
    page.click("#forget-code")
    expect(remembered).to_be_hidden()
    assert page.input_value("#auth-code") == ""
    assert page.evaluate("localStorage.getItem('imgbed.authCode')") is None
    assert dialogs == []


def test_after_too_many_wrong_codes_the_page_says_how_long_to_wait(page, site_url, settings, dialogs):
    settings.IMGBED_AUTH_FAILURE_LIMIT = 2
    code = UploadCode(label="friends")
    code.set_code("sesame")
    code.save()
    page.goto(site_url + "/")
    for name in ("a.png", "b.png"):
        page.fill("#auth-code", "wrong")
        pick(page, name)
        failed = page.locator("#results .result.failed", has_text=name).locator(".error")
        expect(failed).to_contain_text("auth code is wrong")
    page.fill("#auth-code", "sesame")  # even the right code, until the window ends
    pick(page, "c.png")
    refused = page.locator("#results .result.failed", has_text="c.png").locator(".error")
    expect(refused).to_contain_text("Too many failed sign-ins or wrong credentials from your address. Wait")
    expect(refused).to_contain_text("seconds, then try again")
    assert dialogs == []
    assert not StoredFile.objects.exists()
