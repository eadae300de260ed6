"""Secrets are stored as Fernet ciphertext, decrypt only with the right key, and rotate."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from channels.crypto import SecretDecryptionError
from channels.models import Channel
from channels.onedrive.models import OneDriveSettings
from tests.channels import onedrive_channel

pytestmark = pytest.mark.django_db

SECRET = "abc8Q~client-secret-value-0123456789"
REFRESH = "M.C123_BAY.0.U.-refresh-token-value"


def make_channel(**kwargs):
    fields = dict(name="Main OneDrive", client_id="11111111-2222-3333-4444-555555555555")
    fields.update(kwargs)
    return onedrive_channel(client_secret=SECRET, refresh_token=REFRESH, **fields)


def raw_row(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_secret, refresh_token, access_token FROM channels_onedrivesettings "
            "WHERE channel_id = %s",
            [pk],
        )
        return cursor.fetchone()


def stored(channel):
    return OneDriveSettings.objects.get(channel_id=channel.pk)


def test_secrets_are_ciphertext_in_the_database_and_plaintext_on_the_model():
    channel = make_channel()
    secret_raw, refresh_raw, access_raw = raw_row(channel.pk)
    assert SECRET not in secret_raw and REFRESH not in refresh_raw
    assert secret_raw.startswith("gAAAAA")  # a Fernet token
    assert access_raw == ""  # "not set" stays empty, so forms can tell
    fresh = Channel.objects.get(pk=channel.pk).onedrive_settings
    assert fresh.client_secret == SECRET
    assert fresh.refresh_token == REFRESH
    assert fresh.has_client_secret and not fresh.has_access_token


def test_saving_other_fields_keeps_the_secret(settings):
    channel = make_channel()
    before = raw_row(channel.pk)[0]
    loaded = Channel.objects.get(pk=channel.pk)
    loaded.note = "changed"
    loaded.save()
    settings_row = loaded.onedrive_settings
    settings_row.tenant_id = "common"
    settings_row.save()
    assert raw_row(channel.pk)[0] == before
    assert stored(channel).client_secret == SECRET
    assert stored(channel).tenant_id == "common"


def test_wrong_key_raises_a_clear_error_and_never_returns_ciphertext(settings, new_key):
    channel = make_channel()
    settings.IMGBED_ENCRYPTION_KEYS = [new_key]
    loaded = Channel.objects.select_related("onedrive_settings").get(pk=channel.pk)  # listing still works
    assert loaded.name == "Main OneDrive"
    assert loaded.onedrive_settings.client_id == "11111111-2222-3333-4444-555555555555"
    with pytest.raises(SecretDecryptionError, match="IMGBED_ENCRYPTION_KEYS"):
        loaded.onedrive_settings.client_secret  # noqa: B018


def test_key_rotation_reencrypts_every_secret_under_the_newest_key(settings, new_key):
    old_key = settings.IMGBED_ENCRYPTION_KEYS[0]
    channels = [make_channel(name=f"c{i}") for i in range(3)]
    settings.IMGBED_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys")
    settings.IMGBED_ENCRYPTION_KEYS = [new_key]  # old key retired
    for channel in channels:
        loaded = stored(channel)
        assert loaded.client_secret == SECRET
        assert loaded.refresh_token == REFRESH


def test_key_rotation_refuses_when_a_secret_cannot_be_read(settings, new_key):
    channel = make_channel()
    before = raw_row(channel.pk)
    settings.IMGBED_ENCRYPTION_KEYS = [new_key]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_encryption_keys")
    assert raw_row(channel.pk) == before
