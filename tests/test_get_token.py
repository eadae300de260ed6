"""Get Token through the Django test client, against the emulator over real HTTPS."""

import pytest

from channels.models import Channel
from channels.onedrive.models import OneDriveChannel
from tests.oauth import CALLBACK, callback_path, consent, start_get_token

pytestmark = pytest.mark.django_db


def test_add_form_round_trip_shows_the_refresh_token_and_account(staff_client, entra_app, emulator):
    response = start_get_token(staff_client, entra_app)
    assert response.status_code == 302
    assert response["Location"].startswith(emulator.base_url)
    assert entra_app.client_secret not in response["Location"]

    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "no-referrer"
    token = page.context["refresh_token"]
    assert token and token in page.content.decode()
    assert "Ada Lovelace" in page.content.decode()
    assert "Save to" not in page.content.decode()  # nothing to save to before the first save
    assert not Channel.objects.exists()

    # Paste it into the add form and save: the site redeems it at once.
    saved = staff_client.post(
        "/admin/channels/onedrivechannel/add/",
        {
            "name": "Main OneDrive",
            "client_id": entra_app.client_id,
            "client_secret": entra_app.client_secret,
            "tenant_id": "consumers",
            "refresh_token": token,
            "root_directory": "",
            "enabled": "on",
            "cloud": "global",
            "serve_mode": "proxy",
            "note": "",
        },
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    channel = OneDriveChannel.objects.get()
    assert channel.health == Channel.Health.CONNECTED
    assert channel.onedrive_settings.account_email == "ada@example.com"
    assert channel.quota_total and channel.quota_read_at
    assert channel.root_directory == "imgbed"
    # The pasted token was redeemed and rotated: the stored one is the new one.
    assert channel.onedrive_settings.refresh_token != token


def test_saved_channel_get_token_can_save_to_the_channel(staff_client, entra_app, emulator, channel):
    response = start_get_token(staff_client, entra_app, channel=channel, client_secret="")
    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    assert page.status_code == 200
    token = page.context["refresh_token"]
    key = page.context["save_key"]
    assert f"Save to {channel.name}" in page.content.decode()

    saved = staff_client.post("/api/oauth/onedrive/save", {"key": key})
    assert saved.status_code == 302
    assert saved["Location"] == f"/admin/channels/onedrivechannel/{channel.pk}/change/"
    channel.refresh_from_db()
    assert channel.onedrive_settings.refresh_token == token
    assert channel.health == Channel.Health.CONNECTED
    assert channel.onedrive_settings.account_name == "Ada Lovelace"
    assert channel.quota_total is not None

    again = staff_client.post("/api/oauth/onedrive/save", {"key": key})
    assert again.status_code == 400
    assert "already saved or has expired" in again.content.decode()


def test_get_token_admin_action_redirects_to_sign_in(staff_client, entra_app, emulator, channel):
    response = staff_client.post(
        "/admin/channels/onedrivechannel/",
        {"action": "get_token", "_selected_action": [channel.pk]},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(f"{emulator.base_url}/consumers/oauth2/v2.0/authorize")
    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    assert page.context["save_key"]


def test_test_connection_rotates_the_refresh_token_and_reads_quota(staff_client, channel, emulator):
    before = channel.onedrive_settings.refresh_token
    response = staff_client.post(
        "/admin/channels/onedrivechannel/", {"action": "test_connection", "_selected_action": [channel.pk]}
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.health == Channel.Health.CONNECTED
    assert channel.onedrive_settings.refresh_token != before
    assert channel.onedrive_settings.account_email == "ada@example.com"
    assert channel.quota_total == 5 * 1024**3


def test_test_connection_writes_reads_back_and_deletes_a_file(staff_client, channel, emulator):
    emulator.clear_log()
    response = staff_client.post(
        "/admin/channels/onedrivechannel/",
        {"action": "test_connection", "_selected_action": [channel.pk]},
        follow=True,
    )
    assert "wrote, read back and deleted a test file in imgbed" in response.content.decode()
    calls = [(r.method, r.kind, r.status) for r in emulator.requests if r.kind in ("graph", "download")]
    assert (
        ("PUT", "graph", 201) in calls
        and ("GET", "download", 206) in calls
        and ("DELETE", "graph", 204) in calls
    )
    assert emulator.files() == []  # nothing left in the drive


def test_test_connection_button_on_the_change_page(staff_client, channel):
    response = staff_client.post(
        f"/admin/channels/onedrivechannel/{channel.pk}/test-connection/", follow=True
    )
    assert "connected as Ada Lovelace" in response.content.decode()


def test_revoked_grant_marks_needs_reauthorisation_with_words(staff_client, channel, emulator):
    emulator.revoke_grants()
    response = staff_client.post(
        "/admin/channels/onedrivechannel/",
        {"action": "test_connection", "_selected_action": [channel.pk]},
        follow=True,
    )
    channel.refresh_from_db()
    assert channel.health == Channel.Health.NEEDS_REAUTH
    assert "Get Token" in channel.last_error
    listing = response.content.decode()
    assert "Needs re-authorisation" in listing
    assert f"/admin/channels/onedrivechannel/{channel.pk}/change/#get-token" in listing


def test_callback_requires_staff(client, entra_app):
    response = client.get(CALLBACK + "?code=abc&state=xyz")
    assert response.status_code == 403
    assert "Sign in to the admin first" in response.content.decode()


def test_start_requires_staff(client, entra_app):
    response = start_get_token(client, entra_app)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_get_token_saves_to_a_channel_that_has_no_sign_in_yet(staff_client, entra_app, emulator, ada):
    """A OneDrive channel made without its settings (by code, not the form) gets them from the sign-in."""
    channel = OneDriveChannel.objects.create(name="Bare OneDrive")
    response = start_get_token(staff_client, entra_app, channel=channel)
    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    assert staff_client.post("/api/oauth/onedrive/save", {"key": page.context["save_key"]}).status_code == 302
    channel.refresh_from_db()
    assert channel.health == Channel.Health.CONNECTED
    signin = channel.onedrive_settings
    assert (signin.client_id, signin.client_secret) == (entra_app.client_id, entra_app.client_secret)
    assert signin.refresh_token == page.context["refresh_token"]
    assert signin.account_email == "ada@example.com"
