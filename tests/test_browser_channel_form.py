"""The OneDrive channel form as staff see it: in the guide's order, every row labelled, every help alike."""

import pytest

from tests.channels import onedrive_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    return settings.SITE_URL


def log_in(page, site_url):
    page.goto(f"{site_url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site_url}/admin/")


def box(page, selector):
    found = page.locator(selector)
    assert found.count() == 1, selector
    return found.bounding_box()


def assert_help_like_other_fields(page, row):
    """The row's help sits where, and looks as, the Client ID's help does."""
    mine, model = f".field-{row} .help", ".field-client_id .help"
    assert abs(box(page, mine)["x"] - box(page, model)["x"]) < 1
    style = "(e) => [getComputedStyle(e).fontSize, getComputedStyle(e).color]"
    assert page.eval_on_selector(mine, style) == page.eval_on_selector(model, style)


def check_form(page, site_url):
    headings = page.locator("#content-main fieldset h2").all_inner_texts()
    assert headings[0] == "Register this app in Microsoft Entra"
    # Registered in Microsoft Entra before anything is filled in: it comes first.
    assert box(page, "#redirect-uri")["y"] < box(page, "#id_name")["y"]
    assert page.inner_text("#redirect-uri") == f"{site_url}/api/oauth/onedrive/callback"
    assert page.locator(".field-redirect_uri button", has_text="Copy").is_visible()

    label = page.inner_text(".field-get_token_button label").strip()
    assert label.rstrip(":").strip(), "the Get Token row has no label"
    # Get Token sits under Refresh Token, as the guide says.
    assert (
        box(page, "#id_refresh_token")["y"]
        < box(page, "#get-token")["y"]
        < box(page, "#id_root_directory")["y"]
    )

    assert "Register this exact URI" in page.inner_text(".field-redirect_uri .help")
    assert "opens Microsoft's sign-in" in page.inner_text(".field-get_token_button .help")
    for row in ("redirect_uri", "get_token_button"):
        assert_help_like_other_fields(page, row)
    assert page.locator("#tenant-choices option").count() == 3


def test_add_and_change_forms_follow_the_guide(page, site_url, admin_user):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, site_url)
    page.goto(f"{site_url}/admin/channels/onedrivechannel/add/")
    check_form(page, site_url)
    assert page.locator("#test-connection").count() == 0

    channel = onedrive_channel(
        name="Main OneDrive", client_id="11111111-2222-3333-4444-555555555555", client_secret="v~" * 20
    )
    page.goto(f"{site_url}/admin/channels/onedrivechannel/{channel.pk}/change/")
    check_form(page, site_url)
    assert page.locator("#test-connection").is_visible()
    assert "Test connection" in page.inner_text(".field-get_token_button .help")
