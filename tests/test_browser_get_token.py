"""A staff member connects OneDrive in a real browser: the setup guide's steps 6 to 8."""

import pytest

from channels.models import Channel
from channels.onedrive.models import OneDriveChannel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    return settings.SITE_URL


def log_in(page, site_url, admin_user):
    page.goto(f"{site_url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site_url}/admin/")


def sign_in_at_microsoft(page, button="#get-token"):
    """Click Get Token; accept consent in the new tab; return that tab on the callback page."""
    with page.context.expect_page() as new_tab:
        page.click(button)
    tab = new_tab.value
    tab.wait_for_selector("#accept")
    tab.click("#accept")
    tab.wait_for_url("**/api/oauth/onedrive/callback?**")
    return tab


def test_connect_onedrive_by_pasting_then_by_save_to_channel(page, site_url, admin_user, entra_app, ada):
    log_in(page, site_url, admin_user)

    # Add form, before the first save.
    page.goto(f"{site_url}/admin/channels/onedrivechannel/add/")
    assert page.inner_text("#redirect-uri") == f"{site_url}/api/oauth/onedrive/callback"
    page.fill("#id_name", "Main OneDrive")
    page.fill("#id_client_id", entra_app.client_id)
    page.fill("#id_client_secret", entra_app.client_secret)
    page.fill("#id_tenant_id", "consumers")

    tab = sign_in_at_microsoft(page)
    assert "Ada Lovelace" in tab.inner_text("#account-name")
    token = tab.input_value("#refresh-token")
    assert len(token) > 20
    assert tab.locator("#save-token").count() == 0
    tab.click("#copy-token")
    tab.wait_for_function("document.querySelector('#copy-token').textContent === 'Copied'")
    tab.close()

    page.fill("#id_refresh_token", token)
    page.click("input[name=_save]")
    page.wait_for_url(f"{site_url}/admin/channels/onedrivechannel/")
    row = page.locator("#result_list tbody tr", has_text="Main OneDrive")
    assert "Ada Lovelace" in row.inner_text()
    assert "Connected" in row.inner_text()
    assert row.locator("progress").count() == 1
    assert row.locator(".quota-figures").inner_text().replace("\xa0", " ") == "0 bytes / 5.0 GB"

    # A saved channel: Get Token again, and Save to channel from the callback page.
    channel = OneDriveChannel.objects.get(name="Main OneDrive")
    stored_before = channel.onedrive_settings.refresh_token
    page.goto(f"{site_url}/admin/channels/onedrivechannel/{channel.pk}/change/")
    assert "stored" in page.get_attribute("#id_client_secret", "placeholder")
    assert page.input_value("#id_client_secret") == ""
    tab = sign_in_at_microsoft(page)
    new_token = tab.input_value("#refresh-token")
    tab.click("#save-token")
    tab.wait_for_url(f"{site_url}/admin/channels/onedrivechannel/{channel.pk}/change/")
    assert "is saved" in tab.inner_text(".messagelist")
    channel.refresh_from_db()
    assert channel.onedrive_settings.refresh_token == new_token != stored_before
    assert channel.health == Channel.Health.CONNECTED

    tab.goto(f"{site_url}/admin/channels/onedrivechannel/")
    row = tab.locator("#result_list tbody tr", has_text="Main OneDrive")
    assert "ada@example.com" in row.inner_text()
    assert row.locator("progress").count() == 1
