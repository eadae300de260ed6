# Moves what only a OneDrive channel needs from the channel row into its own table:
# creates OneDriveSettings and copies every OneDrive channel's values into it, the
# encrypted columns as their stored ciphertext (nothing is decrypted or encrypted
# again). 0007 then drops the old columns.

import django.db.models.deletion
from django.db import migrations, models

import channels.fields
import channels.onedrive.models

# The columns that move, under the same names on both tables.
MOVED = [
    "client_id",
    "client_secret",
    "tenant_id",
    "refresh_token",
    "cloud",
    "access_token",
    "access_token_expires_at",
    "token_refreshed_at",
    "account_name",
    "account_email",
]


def _tables(apps, schema_editor):
    """Quoted: the channel table and its key, the settings table and its key (the channel's id)."""
    quote = schema_editor.quote_name
    channel = apps.get_model("channels", "Channel")._meta
    onedrive = apps.get_model("channels", "OneDriveSettings")._meta
    return (
        quote,
        quote(channel.db_table),
        quote(channel.pk.column),
        quote(onedrive.db_table),
        quote(onedrive.pk.column),
    )


def copy_to_settings(apps, schema_editor):
    quote, channels, channel_pk, settings, settings_pk = _tables(apps, schema_editor)
    columns = ", ".join(quote(name) for name in MOVED)
    # Raw SQL copies the bytes as they are: ciphertext stays the ciphertext it was.
    schema_editor.execute(
        f"INSERT INTO {settings} ({settings_pk}, {columns}) "
        f"SELECT {channel_pk}, {columns} FROM {channels} WHERE {quote('kind')} = %s",
        ["onedrive"],
    )


def copy_back_to_channels(apps, schema_editor):
    quote, channels, channel_pk, settings, settings_pk = _tables(apps, schema_editor)
    source = f"FROM {settings} WHERE {settings}.{settings_pk} = {channels}.{channel_pk}"
    assignments = ", ".join(f"{quote(name)} = (SELECT {settings}.{quote(name)} {source})" for name in MOVED)
    schema_editor.execute(
        f"UPDATE {channels} SET {assignments} WHERE {channel_pk} IN (SELECT {settings_pk} FROM {settings})"
    )


class Migration(migrations.Migration):

    dependencies = [
        ("channels", "0005_s3_and_webdav_settings"),
    ]

    operations = [
        migrations.CreateModel(
            name="OneDriveSettings",
            fields=[
                (
                    "channel",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="onedrive_settings",
                        serialize=False,
                        to="channels.channel",
                    ),
                ),
                (
                    "client_id",
                    models.CharField(
                        blank=True,
                        help_text="The Application (client) ID from Microsoft Entra.",
                        max_length=100,
                        verbose_name="client ID",
                    ),
                ),
                (
                    "client_secret",
                    channels.fields.EncryptedTextField(
                        blank=True,
                        default="",
                        help_text="The client secret's Value (not its Secret ID) from Certificates & secrets.",
                    ),
                ),
                (
                    "tenant_id",
                    models.CharField(
                        default="consumers",
                        help_text="consumers (personal accounts), common (personal and work or school), "
                        "organizations, or the Directory (tenant) ID.",
                        max_length=64,
                        validators=[channels.onedrive.models.validate_tenant],
                        verbose_name="tenant ID",
                    ),
                ),
                (
                    "refresh_token",
                    channels.fields.EncryptedTextField(
                        blank=True,
                        default="",
                        help_text="Leave empty and click Get Token, or paste the token here.",
                    ),
                ),
                (
                    "cloud",
                    models.CharField(
                        choices=[
                            ("global", "Global (microsoft.com)"),
                            ("china", "China (21Vianet)"),
                            ("usgov", "US Government"),
                        ],
                        default="global",
                        max_length=10,
                    ),
                ),
                ("access_token", channels.fields.EncryptedTextField(blank=True, default="", editable=False)),
                ("access_token_expires_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("token_refreshed_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("account_name", models.CharField(blank=True, editable=False, max_length=200)),
                ("account_email", models.CharField(blank=True, editable=False, max_length=320)),
            ],
            options={
                "verbose_name": "OneDrive sign-in",
            },
        ),
        migrations.RunPython(copy_to_settings, copy_back_to_channels),
    ]
