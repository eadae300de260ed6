"""After every Get Token path, no secret is readable in the database, the admin's HTML or the logs.

The callback page shows the new refresh token once, by design; it is the only exception.
"""

import json
import logging

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection

from channels.onedrive.models import OneDriveSettings
from tests.oauth import callback_path, consent, start_get_token

pytestmark = pytest.mark.django_db


def database_dump() -> str:
    """Every value of every table, as a raw SQL read sees it, plus the decoded sessions."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            parts.extend(repr(row) for row in cursor.fetchall())
    for session in Session.objects.all():
        parts.append(json.dumps(SessionStore().decode(session.session_data)))
    return "\n".join(parts)


def assert_no_secret(text, secrets, where):
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}...) is in {where}"


def test_no_plaintext_secret_after_every_path(staff_client, entra_app, emulator, ada, caplog):
    caplog.set_level(logging.DEBUG)
    html = []

    def get(path):
        response = staff_client.get(path)
        assert response.status_code == 200, path
        html.append(response.content.decode())

    # 1. Add form: Get Token with the typed secret, leave the flow pending, check the session.
    pending = start_get_token(staff_client, entra_app)
    assert_no_secret(database_dump(), {entra_app.client_secret}, "the session table while a flow is pending")
    callback = staff_client.get(callback_path(consent(emulator, pending["Location"])))
    shown_once = callback.context["refresh_token"]

    # 2. Paste it into the add form and save.
    staff_client.post(
        "/admin/channels/onedrivechannel/add/",
        {
            "name": "Main OneDrive",
            "client_id": entra_app.client_id,
            "client_secret": entra_app.client_secret,
            "tenant_id": "consumers",
            "refresh_token": shown_once,
            "root_directory": "",
            "enabled": "on",
            "cloud": "global",
            "serve_mode": "proxy",
            "note": "",
        },
    )
    from channels.onedrive.models import OneDriveChannel

    channel = OneDriveChannel.objects.get()
    assert channel.health == "connected"

    # 3. Saved channel: Get Token and Save to channel.
    response = start_get_token(staff_client, entra_app, channel=channel, client_secret="")
    page = staff_client.get(callback_path(consent(emulator, response["Location"])))
    staff_client.post("/api/oauth/onedrive/save", {"key": page.context["save_key"]})

    # 4. Test connection (rotates again), and the failure paths.
    staff_client.post(
        "/admin/channels/onedrivechannel/", {"action": "test_connection", "_selected_action": [channel.pk]}
    )
    wrong = start_get_token(staff_client, entra_app, client_secret=entra_app.secret_id)
    html.append(staff_client.get(callback_path(consent(emulator, wrong["Location"]))).content.decode())
    denied = start_get_token(staff_client, entra_app, channel=channel)
    html.append(
        staff_client.get(callback_path(consent(emulator, denied["Location"], accept=False))).content.decode()
    )
    # A flow started and never finished stays in the session.
    start_get_token(staff_client, entra_app, channel=channel)

    for path in (
        "/admin/channels/onedrivechannel/",
        f"/admin/channels/onedrivechannel/{channel.pk}/change/",
        f"/admin/channels/onedrivechannel/{channel.pk}/history/",
        "/admin/channels/onedrivechannel/add/",
        "/admin/",
    ):
        get(path)

    secrets = emulator.issued_secrets()
    stored = OneDriveSettings.objects.get(channel=channel)
    assert stored.refresh_token in secrets and stored.access_token in secrets  # the set is the real one
    assert len(secrets) >= 8
    assert_no_secret(database_dump(), secrets, "the database")
    assert_no_secret("\n".join(html), secrets, "the admin's HTML")
    assert_no_secret(caplog.text, secrets, "the logs")
