"""Every way Get Token can fail ends on a page that says what to do, and saves nothing."""

import time

import pytest

from channels.models import Channel
from channels.onedrive import oauth
from tests.oauth import CALLBACK, callback_path, consent, start_get_token

pytestmark = pytest.mark.django_db


def assert_failure_page(response, *phrases, status=400):
    body = response.content.decode()
    assert response.status_code == status, body[:2000]
    assert 'id="oauth-error"' in body
    assert "Nothing was saved" in body
    for phrase in phrases:
        assert phrase in body, f"{phrase!r} not on the page"
    assert response["Cache-Control"] == "no-store"


@pytest.fixture
def unchanged(channel):
    """The saved channel's stored state, to compare after a failure."""
    before = Channel.objects.values().get(pk=channel.pk)
    yield channel
    after = Channel.objects.values().get(pk=channel.pk)
    assert after == before, "a failed Get Token changed the channel"


def test_consent_denied(staff_client, entra_app, emulator, unchanged):
    response = start_get_token(staff_client, entra_app, channel=unchanged)
    page = staff_client.get(callback_path(consent(emulator, response["Location"], accept=False)))
    assert_failure_page(page, "cancelled or the permissions were declined", "choose Accept")


def test_state_missing(staff_client, entra_app, emulator):
    page = staff_client.get(CALLBACK + "?code=abc")
    assert_failure_page(page, "carries no state")


def test_state_from_another_session(staff_client, other_staff_client, entra_app, emulator, unchanged):
    response = start_get_token(staff_client, entra_app, channel=unchanged)
    location = consent(emulator, response["Location"])
    page = other_staff_client.get(callback_path(location))
    assert_failure_page(page, "not started in this browser session")


def test_state_replayed(staff_client, entra_app, emulator, channel):
    response = start_get_token(staff_client, entra_app, channel=channel)
    location = callback_path(consent(emulator, response["Location"]))
    assert staff_client.get(location).status_code == 200
    token_before = Channel.objects.get(pk=channel.pk).onedrive_settings.refresh_token
    page = staff_client.get(location)
    assert_failure_page(page, "already used")
    assert Channel.objects.get(pk=channel.pk).onedrive_settings.refresh_token == token_before


def test_state_expired(staff_client, entra_app, emulator, unchanged, monkeypatch):
    response = start_get_token(staff_client, entra_app, channel=unchanged)
    location = consent(emulator, response["Location"])
    later = time.time() + oauth.FLOW_LIFETIME + 1
    monkeypatch.setattr(oauth.time, "time", lambda: later)
    page = staff_client.get(callback_path(location))
    assert_failure_page(page, "has expired", "Get Token again")


def test_wrong_secret_says_paste_the_value_not_the_id(staff_client, entra_app, emulator):
    response = start_get_token(staff_client, entra_app, client_secret=entra_app.secret_id)
    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    assert_failure_page(page, "Paste the secret&#x27;s Value, not its Secret ID", "AADSTS7000215")
    assert not Channel.objects.exists()


def test_expired_secret(staff_client, entra_app, emulator, unchanged):
    entra_app.expire_secret()
    response = start_get_token(staff_client, entra_app, channel=unchanged)
    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    assert_failure_page(page, "client secret has expired", "Create a new client secret", "AADSTS7000222")


@pytest.mark.parametrize(
    "code, phrase",
    [
        (700016, "Microsoft does not know this Client ID in that directory"),
        (50194, "Tenant ID cannot be common"),
        (9002332, "Tenant ID cannot be consumers"),
        (50011, "redirect URI does not match"),
        (70000, "expired or is not valid"),
        (54005, "already used"),
    ],
)
def test_token_endpoint_errors_in_words(staff_client, entra_app, emulator, unchanged, code, phrase):
    response = start_get_token(staff_client, entra_app, channel=unchanged)
    location = consent(emulator, response["Location"])
    error = (
        "unauthorized_client"
        if code == 700016
        else "invalid_grant"
        if code in (70000, 54005)
        else "invalid_request"
    )
    emulator.faults.inject(
        "token",
        status=400,
        count=1,
        body={
            "error": error,
            "error_description": f"AADSTS{code}: Something Microsoft says.\r\nTrace ID: 0",
            "error_codes": [code],
        },
    )
    page = staff_client.get(callback_path(location))
    assert_failure_page(page, phrase, f"AADSTS{code}")


def test_code_redeemed_twice_is_refused_by_the_identity_platform(staff_client, entra_app, emulator):
    """A code the emulator already redeemed (the browser went back) gives AADSTS54005 in words."""
    response = start_get_token(staff_client, entra_app)
    location = consent(emulator, response["Location"])
    assert staff_client.get(callback_path(location)).status_code == 200
    # Start a fresh flow so the state is valid, then answer it with the spent code.
    second = start_get_token(staff_client, entra_app)
    state = second["Location"].split("state=")[1].split("&")[0]
    code = location.split("code=")[1].split("&")[0]
    page = staff_client.get(f"{CALLBACK}?code={code}&state={state}")
    assert_failure_page(page, "already used", "AADSTS")


def test_redirect_uri_mismatch_is_shown_by_microsoft(staff_client, entra_app, emulator, settings):
    settings.SITE_URL = "http://wrong.example"
    settings.ALLOWED_HOSTS = ["*"]
    response = start_get_token(staff_client, entra_app, host="wrong.example")
    page = emulator_page(emulator, response["Location"])
    assert "AADSTS50011" in page


def emulator_page(emulator, url):
    import requests

    return requests.get(url, verify=emulator.ca_pem_path, allow_redirects=False, timeout=10).text


def test_opening_the_admin_at_another_address_is_explained(staff_client, entra_app, settings):
    settings.SITE_URL = "https://img.example.com"
    response = start_get_token(staff_client, entra_app)
    assert_failure_page(
        response, "Open the admin at the site&#x27;s address", "https://img.example.com/admin/"
    )


def test_missing_fields(staff_client, entra_app):
    response = start_get_token(staff_client, entra_app, client_secret="")
    assert_failure_page(response, "Get Token needs the Client Secret")


def test_invalid_tenant(staff_client, entra_app):
    response = start_get_token(staff_client, entra_app, tenant_id="contoso")
    assert_failure_page(response, "consumers", "organizations", "directory (tenant) ID")
