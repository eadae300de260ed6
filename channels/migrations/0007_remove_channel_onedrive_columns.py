# The OneDrive columns of the channel row, now in OneDriveSettings (copied by 0006).
# Its own migration, so the copy has committed before the table is altered.

from django.db import migrations

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


class Migration(migrations.Migration):

    dependencies = [
        ("channels", "0006_onedrive_settings"),
    ]

    operations = [migrations.RemoveField(model_name="channel", name=name) for name in MOVED]
