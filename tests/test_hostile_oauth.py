"""Get Token's callback under attack or with a broken sign-in service: forged states, a code
issued to another app, a token endpoint that answers garbage or never answers. Each ends on a
page in words, saves nothing, and leaves the channel's stored refresh token as it was.

The missing, replayed, expired and foreign states and the declined consent are in
test_get_token_failures.py; this adds what they do not cover."""

import secrets

import pytest

from channels.models import Channel
from channels.onedrive.models import OneDriveSettings
from tests.oauth import CALLBACK, callback_path, consent, start_get_token

pytestmark = pytest.mark.django_db


def assert_failure_page(response, *phrases, status=400):
    body = response.content.decode()
    assert response.status_code == status, body[:2000]
    assert 'id="oauth-error"' in body and "Nothing was saved" in body
    for phrase in phrases:
        assert phrase in body, f"{phrase!r} not on the page"
    assert response["Cache-Control"] == "no-store"
    assert "Traceback" not in body
    assert "save_key" not in (response.context or {}) or not response.context["save_key"]


@pytest.fixture
def kept(channel):
    """The channel's sign-in as stored (refresh token included), compared after the test."""
    fields = [
        "refresh_token",
        "access_token",
        "client_id",
        "client_secret",
        "tenant_id",
        "token_refreshed_at",
    ]
    signin = OneDriveSettings.objects.get(pk=channel.pk)
    before = ({f: getattr(signin, f) for f in fields}, Channel.objects.values().get(pk=channel.pk))
    assert before[0]["refresh_token"]
    yield channel
    signin = OneDriveSettings.objects.get(pk=channel.pk)
    after = ({f: getattr(signin, f) for f in fields}, Channel.objects.values().get(pk=channel.pk))
    assert after == before, "a failed Get Token changed the channel's stored sign-in"
    assert OneDriveSettings.objects.count() == 1 and Channel.objects.count() == 1


def query_of(location):
    return dict(part.split("=", 1) for part in location.split("?", 1)[1].split("&"))


def test_a_forged_state_is_refused_and_does_not_spend_the_real_sign_in(
    staff_client, entra_app, emulator, kept
):
    response = start_get_token(staff_client, entra_app, channel=kept)
    location = callback_path(consent(emulator, response["Location"]))
    code = query_of(location)["code"]
    forged = staff_client.get(f"{CALLBACK}?code={code}&state={secrets.token_urlsafe(16)}")
    assert_failure_page(forged, "not started in this browser session", "Get Token again")
    # The attempt consumed nothing: the real answer still completes (and is not saved until Save).
    assert staff_client.get(location).status_code == 200


def test_a_state_from_no_sign_in_at_all(staff_client, entra_app, emulator, kept):
    page = staff_client.get(f"{CALLBACK}?code={secrets.token_urlsafe(16)}&state=forged")
    assert_failure_page(page, "not started in this browser session")


def test_a_state_used_by_a_declined_sign_in_cannot_be_used_again(staff_client, entra_app, emulator, kept):
    response = start_get_token(staff_client, entra_app, channel=kept)
    state = query_of(response["Location"])["state"]
    declined = staff_client.get(f"{CALLBACK}?error=access_denied&error_description=denied&state={state}")
    assert_failure_page(declined, "cancelled or the permissions were declined")
    later = staff_client.get(f"{CALLBACK}?code=stolen&state={state}")
    assert_failure_page(later, "already used")


def test_access_denied_with_a_forged_state_is_refused_as_a_forged_state(staff_client, entra_app, kept):
    page = staff_client.get(f"{CALLBACK}?error=access_denied&state=forged")
    assert_failure_page(page, "not started in this browser session")


def test_a_code_issued_to_another_app(staff_client, entra_app, emulator, onedrive_settings, kept):
    """A code obtained for app A, sent back with the state of a sign-in started for app B."""
    other = emulator.register_app(
        redirect_uris=[onedrive_settings.SITE_URL + CALLBACK], audience="consumers", name="Someone else's app"
    )
    foreign = start_get_token(staff_client, other)
    foreign_code = query_of(consent(emulator, foreign["Location"]))["code"]
    ours = start_get_token(staff_client, entra_app, channel=kept)
    state = query_of(ours["Location"])["state"]
    page = staff_client.get(f"{CALLBACK}?code={foreign_code}&state={state}")
    assert_failure_page(page, "expired or is not valid", "Get Token again", "AADSTS70000")


GARBAGE = [
    ("not JSON", 200, "<html><body>Welcome to the captive portal</body></html>"),
    ("empty JSON", 200, {}),
    ("no token", 200, {"token_type": "Bearer", "expires_in": 3599}),
    ("refresh token only", 200, {"token_type": "Bearer", "refresh_token": "0.AAA-only"}),
    ("a list", 200, [1, 2, 3]),
    ("an HTML error page", 502, "<html><h1>502 Bad Gateway</h1></html>"),
    (
        "an extended expiry that is not a number",
        200,
        {"access_token": "x", "refresh_token": "y", "expires_in": 3599, "ext_expires_in": "later"},
    ),
    (
        "an expiry that is not a number",
        200,
        {"access_token": "x", "refresh_token": "y", "expires_in": "soon"},
    ),
]


@pytest.mark.parametrize("what, status, body", GARBAGE, ids=[g[0] for g in GARBAGE])
def test_a_token_endpoint_that_answers_garbage(staff_client, entra_app, emulator, kept, what, status, body):
    response = start_get_token(staff_client, entra_app, channel=kept)
    location = callback_path(consent(emulator, response["Location"]))
    emulator.faults.inject("token", status=status, body=body, retry_after=None)
    page = staff_client.get(location)
    assert_failure_page(page, "Click Get Token again", status=502)
    assert "Microsoft&#x27;s sign-in service" in page.content.decode()


@pytest.mark.parametrize(
    "body", ["<html>captive portal</html>", {}, {"issuer": "x"}], ids=["not JSON", "empty", "no endpoints"]
)
def test_a_sign_in_configuration_that_is_garbage(staff_client, entra_app, emulator, kept, body):
    """msal reads the tenant's configuration before anything else: garbage there is a page in words."""
    response = start_get_token(staff_client, entra_app, channel=kept)
    location = callback_path(consent(emulator, response["Location"]))
    emulator.faults.inject("discovery", status=200, body=body, retry_after=None, count=5)
    page = staff_client.get(location)
    assert_failure_page(page, "not a token answer", "Click Get Token again", status=502)


def test_a_token_endpoint_that_never_answers(staff_client, entra_app, emulator, kept, settings):
    """The site's call gives up after ONEDRIVE_HTTP_TIMEOUT and says so; the browser is not left waiting."""
    settings.ONEDRIVE_HTTP_TIMEOUT = 1.0
    response = start_get_token(staff_client, entra_app, channel=kept)
    location = callback_path(consent(emulator, response["Location"]))
    rule = emulator.faults.inject("token", hang=True)
    try:
        page = staff_client.get(location)
    finally:
        rule.release()
    assert rule.hanging.is_set()
    assert_failure_page(page, "did not answer", "Click Get Token again", status=504)


def test_the_save_button_with_a_forged_key_saves_nothing(staff_client, kept):
    page = staff_client.post("/api/oauth/onedrive/save", {"key": secrets.token_urlsafe(16)})
    assert_failure_page(page, "already saved or has expired", "Get Token again")


def test_another_staff_members_result_cannot_be_saved(
    staff_client, other_staff_client, entra_app, emulator, kept
):
    response = start_get_token(staff_client, entra_app, channel=kept)
    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    key = page.context["save_key"]
    stolen = other_staff_client.post("/api/oauth/onedrive/save", {"key": key})
    assert_failure_page(stolen, "already saved or has expired")


@pytest.mark.parametrize("what, status, body", GARBAGE[:2], ids=[g[0] for g in GARBAGE[:2]])
def test_a_garbage_refresh_answer_keeps_the_refresh_token_and_says_try_again(
    staff_client, channel, emulator, what, status, body
):
    """Test connection redeems the stored refresh token: a garbage answer is a passing trouble, the
    channel is not sent back to Get Token, and the token it holds is the one it had."""
    before = OneDriveSettings.objects.get(pk=channel.pk).refresh_token
    emulator.faults.inject("token", status=status, body=body, retry_after=None)
    page = staff_client.post(
        f"/admin/channels/onedrivechannel/{channel.pk}/test-connection/", follow=True
    ).content.decode()
    assert "Microsoft&#x27;s sign-in service answered" in page and "Try again." in page
    assert OneDriveSettings.objects.get(pk=channel.pk).refresh_token == before
    assert Channel.objects.get(pk=channel.pk).health != Channel.Health.NEEDS_REAUTH


def test_no_open_redirect_through_get_token(staff_client, entra_app, emulator, onedrive_settings, channel):
    """The sign-in always comes back to this site's callback, and Save always goes to the channel."""
    from urllib.parse import parse_qs, urlsplit

    evil = "https://evil.example/steal"
    response = start_get_token(staff_client, entra_app, channel=channel, redirect_uri=evil, next=evil)
    assert response["Location"].startswith(emulator.base_url)
    sent = parse_qs(urlsplit(response["Location"]).query)
    assert sent["redirect_uri"] == [onedrive_settings.SITE_URL + CALLBACK]
    page = staff_client.get(callback_path(consent(emulator, response["Location"])) + f"&next={evil}")
    assert page.status_code == 200 and evil not in page.content.decode()
    saved = staff_client.post(
        f"/api/oauth/onedrive/save?next={evil}", {"key": page.context["save_key"], "next": evil}
    )
    assert saved["Location"] == f"/admin/channels/onedrivechannel/{channel.pk}/change/"
