"""Saving the OneDrive channel form: the Secret ID mistake is caught, and each save says one outcome."""

import html
import socket

import pytest
from django.contrib import messages
from django.utils.html import strip_tags

from channels.onedrive.models import OneDriveChannel

pytestmark = pytest.mark.django_db

ADD = "/admin/channels/onedrivechannel/add/"


def form_data(entra_app, **overrides):
    data = {
        "name": "Main OneDrive",
        "client_id": entra_app.client_id,
        "client_secret": entra_app.client_secret,
        "tenant_id": "consumers",
        "refresh_token": "",
        "root_directory": "",
        "enabled": "on",
        "cloud": "global",
        "serve_mode": "proxy",
        "note": "",
    }
    data.update(overrides)
    return data


def shown(response):
    """The messages the page shows, as a person reads them."""
    return [
        (m.level, html.unescape(strip_tags(str(m))).replace("\xa0", " "))
        for m in response.context["messages"]
    ]


@pytest.fixture
def closed_port_url():
    """An address where nothing listens: Microsoft cannot be reached."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}"


def test_a_pasted_secret_id_is_refused_and_says_paste_the_value(staff_client, entra_app):
    response = staff_client.post(ADD, form_data(entra_app, client_secret=entra_app.secret_id))
    assert response.status_code == 200
    error = response.context["adminform"].form.errors["client_secret"][0]
    assert error.startswith("This looks like the secret's ID; paste its Value.")
    assert "create a new client secret" in error
    assert not OneDriveChannel.objects.exists()


def test_the_secret_value_is_accepted(staff_client, entra_app):
    assert staff_client.post(ADD, form_data(entra_app)).status_code == 302
    assert OneDriveChannel.objects.get().onedrive_settings.client_secret == entra_app.client_secret


def test_unreachable_microsoft_gives_one_message_saved_but_not_checked(
    staff_client, entra_app, emulator, ada, settings, closed_port_url
):
    token = emulator.issue_refresh_token(entra_app, ada)
    settings.ONEDRIVE_LOGIN_URL = closed_port_url
    response = staff_client.post(ADD, form_data(entra_app, refresh_token=token), follow=True)
    assert response.redirect_chain[-1][0] == "/admin/channels/onedrivechannel/"
    [(level, text)] = shown(response)
    assert level == messages.WARNING
    assert "“Main OneDrive” was saved, but its connection could not be checked" in text
    assert "Cannot reach Microsoft's sign-in service" in text
    assert "click Test connection" in text
    assert "successfully" not in text
    assert OneDriveChannel.objects.get().onedrive_settings.refresh_token == token  # kept for the next check

    # The same on the change form.
    channel = OneDriveChannel.objects.get()
    response = staff_client.post(
        f"/admin/channels/onedrivechannel/{channel.pk}/change/",
        form_data(entra_app, client_secret="", refresh_token=token),
        follow=True,
    )
    [(level, text)] = shown(response)
    assert level == messages.WARNING and "could not be checked" in text


def test_a_refused_token_gives_one_message_that_says_get_token(staff_client, entra_app, emulator):
    response = staff_client.post(ADD, form_data(entra_app, refresh_token="not-a-token"), follow=True)
    [(level, text)] = shown(response)
    assert level == messages.WARNING
    assert "was saved, but its connection could not be checked" in text
    assert "Get Token" in text
    assert "successfully" not in text


def test_a_working_token_gives_one_message_saved_and_connected(staff_client, entra_app, emulator, ada):
    token = emulator.issue_refresh_token(entra_app, ada)
    response = staff_client.post(ADD, form_data(entra_app, refresh_token=token), follow=True)
    [(level, text)] = shown(response)
    assert level == messages.SUCCESS
    assert "“Main OneDrive” was saved and is connected as Ada Lovelace (ada@example.com)" in text


def test_a_save_without_a_token_keeps_djangos_message(staff_client, entra_app):
    response = staff_client.post(ADD, form_data(entra_app), follow=True)
    [(level, text)] = shown(response)
    assert level == messages.SUCCESS and "was added successfully" in text
