"""Migrations 0006 and 0007 move the OneDrive columns into OneDriveSettings without losing a token:
the ciphertext is copied as it is stored, so it decrypts to the same secret."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("channels", "0005_s3_and_webdav_settings")]
SECRET = "abc8Q~client-secret-value-0123456789"
REFRESH = "M.C123_BAY.0.U.-refresh-token-value"
ACCESS = "EwBwA8l6-access-token-value"


def migrate(targets):
    """Migrate the test database to `targets`; returns the models as they stand there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def migrate_to_latest():
    """Every migration applied (0006 and 0007, and whatever came after them), as the code expects."""
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def stored_ciphertext(table, key, pk):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT client_secret, refresh_token, access_token FROM {table} WHERE {key} = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()


def channel_columns():
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, "channels_channel")}


@pytest.fixture
def old_schema():
    """The database as it was before the move; migrated forward again afterwards."""
    apps = migrate(BEFORE)
    yield apps
    migrate_to_latest()


def test_tokens_move_to_onedrive_settings_as_stored(old_schema):
    Channel = old_schema.get_model("channels", "Channel")
    expires = timezone.now() + datetime.timedelta(minutes=50)
    refreshed = timezone.now() - datetime.timedelta(hours=3)
    onedrive = Channel.objects.create(
        name="Main OneDrive",
        kind="onedrive",
        client_id="11111111-2222-3333-4444-555555555555",
        client_secret=SECRET,
        tenant_id="common",
        refresh_token=REFRESH,
        cloud="china",
        access_token=ACCESS,
        access_token_expires_at=expires,
        token_refreshed_at=refreshed,
        account_name="Ada Lovelace",
        account_email="ada@example.com",
        health="connected",
        note="kept",
    )
    waiting = Channel.objects.create(name="Not connected yet", kind="onedrive")
    local = Channel.objects.create(name="Disk", kind="local")
    ciphertext = stored_ciphertext("channels_channel", "id", onedrive.pk)
    assert ciphertext[1].startswith("gAAAAA") and REFRESH not in ciphertext[1]

    migrate_to_latest()

    from channels.models import Channel as NewChannel
    from channels.onedrive.models import OneDriveSettings

    assert "refresh_token" not in channel_columns() and "client_id" not in channel_columns()
    # The very bytes that were stored, not a re-encryption of them.
    assert stored_ciphertext("channels_onedrivesettings", "channel_id", onedrive.pk) == ciphertext
    moved = NewChannel.objects.select_related("onedrive_settings").get(pk=onedrive.pk)
    assert (moved.name, moved.health, moved.note) == ("Main OneDrive", "connected", "kept")
    signin = moved.onedrive_settings
    assert signin.refresh_token == REFRESH
    assert signin.client_secret == SECRET
    assert signin.access_token == ACCESS
    assert (signin.client_id, signin.tenant_id, signin.cloud) == (
        "11111111-2222-3333-4444-555555555555",
        "common",
        "china",
    )
    assert (signin.access_token_expires_at, signin.token_refreshed_at) == (expires, refreshed)
    assert (signin.account_name, signin.account_email) == ("Ada Lovelace", "ada@example.com")

    empty = OneDriveSettings.objects.get(channel_id=waiting.pk)
    assert not empty.has_refresh_token and not empty.has_client_secret and empty.tenant_id == "consumers"
    assert not OneDriveSettings.objects.filter(channel_id=local.pk).exists()


def test_migrating_back_puts_the_tokens_on_the_channel_row(old_schema):
    Channel = old_schema.get_model("channels", "Channel")
    channel = Channel.objects.create(
        name="Main OneDrive", kind="onedrive", client_secret=SECRET, refresh_token=REFRESH, cloud="usgov"
    )
    ciphertext = stored_ciphertext("channels_channel", "id", channel.pk)
    migrate_to_latest()

    apps = migrate(BEFORE)

    assert stored_ciphertext("channels_channel", "id", channel.pk) == ciphertext
    back = apps.get_model("channels", "Channel").objects.get(pk=channel.pk)
    assert (back.refresh_token, back.client_secret, back.cloud) == (REFRESH, SECRET, "usgov")
