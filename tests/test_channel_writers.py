"""Every writer of a channel row, or of its OneDriveSettings, writes only the fields it owns, so
none undoes another.

Refresh tokens rotate: once a worker has redeemed one, Microsoft refuses it.
A staff save of the change form, loaded before the rotation, must not write
the old token (or the old health, quota or error) back.
"""

import threading

import pytest
from django import db
from django.db import connection as database
from django.test.utils import CaptureQueriesContext

from channels.models import Channel
from channels.onedrive import connection
from channels.onedrive.forms import OneDriveChannelForm
from channels.onedrive.models import OneDriveSettings
from channels.tasks import refresh_tokens
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connected(channel, onedrive_settings):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    connection.access_token(channel.pk, force=True)  # stamps token_refreshed_at, as in use
    return Channel.objects.get(pk=channel.pk)


def change_url(channel):
    return f"/admin/channels/onedrivechannel/{channel.pk}/change/"


def note_only(channel, note):
    """The change form as staff send it after editing the note: secrets left empty."""
    onedrive = channel.onedrive_settings
    return {
        "name": channel.name,
        "client_id": onedrive.client_id,
        "client_secret": "",
        "tenant_id": onedrive.tenant_id,
        "refresh_token": "",
        "root_directory": channel.root_directory,
        "enabled": "on",
        "cloud": onedrive.cloud,
        "serve_mode": channel.serve_mode,
        "note": note,
    }


def assert_alive(channel, emulator):
    """The stored token is the live one: redeeming it works, and nothing dead was redeemed."""
    row = Channel.objects.get(pk=channel.pk)
    assert row.health == Channel.Health.CONNECTED, row.last_error
    assert emulator.failed_redemptions == 0
    connection.access_token(channel.pk, force=True)
    assert emulator.failed_redemptions == 0
    assert Channel.objects.get(pk=channel.pk).health == Channel.Health.CONNECTED


def test_a_stale_row_saved_after_a_rotation_keeps_the_rotated_token(connected, emulator):
    stale = Channel.objects.select_related("onedrive_settings").get(pk=connected.pk)  # as a form loads it
    connection.access_token(connected.pk, force=True)  # a worker rotates meanwhile
    rotated = OneDriveSettings.objects.get(channel=connected)
    stale.note = "edited"
    stale.save()
    stale.onedrive_settings.save()

    row = OneDriveSettings.objects.select_related("channel").get(channel=connected)
    assert row.channel.note == "edited"
    assert row.refresh_token == rotated.refresh_token
    assert row.access_token == rotated.access_token
    assert row.token_refreshed_at == rotated.token_refreshed_at
    assert_alive(connected, emulator)


def test_stale_settings_saved_after_a_rotation_write_only_what_changed(connected, emulator):
    stale = OneDriveSettings.objects.get(channel=connected)
    secret = stale.client_secret
    connection.access_token(connected.pk, force=True)
    rotated = OneDriveSettings.objects.get(channel=connected)
    stale.full_clean()  # reads every field and sets it back, decrypted
    stale.client_secret = secret  # the same secret, typed again
    stale.account_name = "Ada L."
    with CaptureQueriesContext(database) as queries:
        stale.save()
    [update] = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert "account_name" in update
    assert "refresh_token" not in update and "client_secret" not in update

    row = OneDriveSettings.objects.get(channel=connected)
    assert row.account_name == "Ada L."
    assert row.refresh_token == rotated.refresh_token
    assert row.access_token == rotated.access_token
    assert row.token_refreshed_at == rotated.token_refreshed_at
    assert_alive(connected, emulator)


def test_unchanged_rows_are_not_written(connected):
    channel = Channel.objects.select_related("onedrive_settings").get(pk=connected.pk)
    channel.full_clean()
    channel.onedrive_settings.full_clean()
    with CaptureQueriesContext(database) as queries:
        channel.save()
        channel.onedrive_settings.save()
    assert queries.captured_queries == []


def test_a_stale_row_saved_after_a_health_change_keeps_the_new_health(connected, emulator):
    stale = Channel.objects.get(pk=connected.pk)
    Channel.objects.filter(pk=connected.pk).update(
        health=Channel.Health.NEEDS_REAUTH, last_error="Run Get Token again."
    )
    stale.note = "edited"
    stale.save()
    row = Channel.objects.get(pk=connected.pk)
    assert (row.health, row.last_error, row.note) == (
        Channel.Health.NEEDS_REAUTH,
        "Run Get Token again.",
        "edited",
    )


def test_admin_save_during_a_rotation_keeps_the_rotated_token(connected, emulator, staff_client, monkeypatch):
    """The rotation commits after the admin has read the row and before it saves it."""
    original_clean = OneDriveChannelForm.clean

    def clean_while_a_worker_rotates(form):
        connection.access_token(connected.pk, force=True)
        return original_clean(form)

    monkeypatch.setattr(OneDriveChannelForm, "clean", clean_while_a_worker_rotates)
    redeemed = emulator.token_redemptions
    response = staff_client.post(change_url(connected), note_only(connected, "edited in the admin"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert emulator.token_redemptions == redeemed + 1
    monkeypatch.undo()

    row = Channel.objects.get(pk=connected.pk)
    assert row.note == "edited in the admin"
    assert emulator.valid_refresh_tokens == 1
    assert_alive(connected, emulator)


def test_admin_saves_while_workers_refresh_in_a_loop(
    connected, emulator, staff_client, start_worker, settings
):
    """The reproduction: refresh_tokens due every time, in four worker processes, while
    staff save the change form again and again."""
    start_worker(concurrency=4, IMGBED_TOKEN_REFRESH_INTERVAL=0)
    stop = threading.Event()
    errors = []

    def refresh_loops():
        try:
            while not stop.is_set():
                batch = [refresh_tokens.delay() for _ in range(4)]
                for result in batch:
                    outcome = result.get(timeout=60)
                    if outcome["failed"]:
                        errors.append(outcome["failed"])
                        return
        except Exception as exc:  # surfaced below, not lost in the thread
            errors.append(repr(exc))
        finally:
            db.connection.close()  # this thread's own, or the test database cannot be dropped

    refresher = threading.Thread(target=refresh_loops)
    before = emulator.token_redemptions
    refresher.start()
    try:
        for n in range(40):
            response = staff_client.post(change_url(connected), note_only(connected, f"edit {n}"))
            assert response.status_code == 302
            # Each save is read and written while the workers go on rotating.
            seen = emulator.token_redemptions
            wait_for(lambda s=seen: emulator.token_redemptions > s or errors, what="the next rotation")
            if errors:
                break
    finally:
        stop.set()
        refresher.join(120)
    assert not errors, errors
    assert emulator.token_redemptions - before >= 40
    assert Channel.objects.get(pk=connected.pk).note.startswith("edit ")
    assert_alive(connected, emulator)
