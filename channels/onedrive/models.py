import re

from django.core.exceptions import ValidationError
from django.db import models

from channels.dirty import SavesOnlyChanges
from channels.fields import EncryptedTextField
from channels.models import Channel, KindManager

TENANT_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TENANT_NAMES = ("consumers", "common", "organizations")


def validate_tenant(value):
    if value in TENANT_NAMES or TENANT_GUID.match(value or ""):
        return
    raise ValidationError(
        "Tenant ID must be consumers (personal accounts), common (personal and work or "
        "school accounts), organizations (work or school accounts), or your directory "
        "(tenant) ID, a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47 from the app's "
        "Overview page in Microsoft Entra.",
        code="invalid_tenant",
    )


class OneDriveSettings(SavesOnlyChanges, models.Model):
    """How a OneDrive channel signs in to Microsoft, and the tokens and account it keeps.

    Saved like the channel row: only what changed since it was read, so a form
    loaded before a worker rotated the refresh token never writes the old one back.
    """

    class Cloud(models.TextChoices):
        GLOBAL = "global", "Global (microsoft.com)"
        CHINA = "china", "China (21Vianet)"
        US_GOV = "usgov", "US Government"

    channel = models.OneToOneField(
        "channels.Channel", on_delete=models.CASCADE, primary_key=True, related_name="onedrive_settings"
    )

    # As the setup guide names the fields.
    client_id = models.CharField(
        "client ID", max_length=100, blank=True, help_text="The Application (client) ID from Microsoft Entra."
    )
    client_secret = EncryptedTextField(
        help_text="The client secret's Value (not its Secret ID) from Certificates & secrets."
    )
    tenant_id = models.CharField(
        "tenant ID",
        max_length=64,
        default="consumers",
        validators=[validate_tenant],
        help_text="consumers (personal accounts), common (personal and work or school), "
        "organizations, or the Directory (tenant) ID.",
    )
    refresh_token = EncryptedTextField(help_text="Leave empty and click Get Token, or paste the token here.")
    cloud = models.CharField(max_length=10, choices=Cloud.choices, default=Cloud.GLOBAL)

    # Kept by the site.
    access_token = EncryptedTextField(editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    token_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    account_name = models.CharField(max_length=200, blank=True, editable=False)
    account_email = models.CharField(max_length=320, blank=True, editable=False)

    # What a redemption of the refresh token writes, and nothing else.
    TOKEN_FIELDS = ["refresh_token", "access_token", "access_token_expires_at", "token_refreshed_at"]
    ACCOUNT_FIELDS = ["account_name", "account_email"]

    class Meta:
        verbose_name = "OneDrive sign-in"

    def __str__(self):
        return self.account_email or f"app {self.client_id}"

    def _is_set(self, name) -> bool:
        return self._meta.get_field(name).is_set(self)

    @property
    def has_client_secret(self) -> bool:
        return self._is_set("client_secret")

    @property
    def has_refresh_token(self) -> bool:
        return self._is_set("refresh_token")

    @property
    def has_access_token(self) -> bool:
        return self._is_set("access_token")


def settings_of(channel) -> OneDriveSettings:
    """The channel's OneDrive settings; empty ones, not saved, for a channel that has none yet."""
    try:
        return channel.onedrive_settings
    except OneDriveSettings.DoesNotExist:
        return OneDriveSettings(channel=channel)


class OneDriveChannel(Channel):
    """The OneDrive rows of Channel, with their own admin."""

    KIND = "onedrive"
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        app_label = "channels"
        verbose_name = "OneDrive channel"
