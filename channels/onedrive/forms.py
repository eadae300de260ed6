"""The OneDrive channel's settings form: the setup guide's fields, in its order."""

import re

from django import forms
from django.utils.html import format_html, format_html_join

from channels.forms import secret_field
from channels.onedrive.models import TENANT_NAMES, OneDriveChannel, OneDriveSettings, validate_tenant

# Certificates & secrets lists a Secret ID (a GUID) beside the secret's Value
# (about 40 characters, often with a "~"): pasting the ID is the usual mistake.
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class TenantInput(forms.TextInput):
    """A text input suggesting the tenant names; a directory GUID can still be typed."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "off", "size": 40, "list": "tenant-choices", **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        options = format_html_join("", '<option value="{}">', ((tenant,) for tenant in TENANT_NAMES))
        return format_html(
            '{}<datalist id="tenant-choices">{}</datalist>',
            super().render(name, value, attrs, renderer),
            options,
        )


def _sign_in_field(name, **overrides):
    """The OneDriveSettings field as a form field: its label, help, choices and default."""
    return OneDriveSettings._meta.get_field(name).formfield(**overrides)


# The OneDriveSettings fields the form edits as they are; the secrets are write-only.
SIGN_IN_FIELDS = ["client_id", "tenant_id", "cloud"]
SECRET_FIELDS = ["client_secret", "refresh_token"]


class OneDriveChannelForm(forms.ModelForm):
    """The channel row and its OneDriveSettings, saved together (only what changed, in both)."""

    client_id = _sign_in_field(
        "client_id",
        required=True,
        label="Client ID",
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 40}),
    )
    client_secret = secret_field(
        "Client Secret", "The client secret's Value (not its Secret ID) from Certificates & secrets."
    )
    tenant_id = _sign_in_field("tenant_id", label="Tenant ID", widget=TenantInput())
    refresh_token = secret_field(
        "Refresh Token", "Leave empty and click Get Token, or paste the token from the callback page."
    )
    cloud = _sign_in_field("cloud")

    class Meta:
        model = OneDriveChannel
        fields = [
            "name",
            "client_id",
            "client_secret",
            "tenant_id",
            "refresh_token",
            "root_directory",
            "note",
        ]
        fields += ["enabled", "cloud", "serve_mode"]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        labels = {"name": "Channel name"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["root_directory"].required = False
        self.stored = (
            OneDriveSettings.objects.filter(channel=self.instance).first() if self.instance.pk else None
        )
        if self.stored is not None:
            for name in SIGN_IN_FIELDS:
                self.initial.setdefault(name, getattr(self.stored, name))
            for name, is_set in (
                ("client_secret", self.stored.has_client_secret),
                ("refresh_token", self.stored.has_refresh_token),
            ):
                if is_set:
                    self.fields[
                        name
                    ].help_text = "A value is stored and is not shown. Leave empty to keep it."
                    self.fields[name].widget.attrs["placeholder"] = "•••••••• stored"

    def _has_client_secret(self) -> bool:
        return self.stored is not None and self.stored.has_client_secret

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("client_secret") and not self._has_client_secret():
            self.add_error(
                "client_secret",
                "Paste the client secret's Value from Certificates & secrets in Microsoft Entra.",
            )
        return cleaned

    def clean_client_secret(self):
        secret = self.cleaned_data["client_secret"]
        if GUID.match(secret):
            # Refused, not warned: Microsoft would refuse it at every sign-in.
            raise forms.ValidationError(
                "This looks like the secret's ID; paste its Value. Certificates & secrets in Microsoft "
                "Entra shows the Value (about 40 characters, often with a ~) beside the Secret ID only "
                "right after the secret is created: if it is hidden now, create a new client secret and "
                "copy its Value.",
                code="secret_id",
            )
        return secret

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_client_id(self):
        return self.cleaned_data["client_id"].strip()

    def clean_tenant_id(self):
        tenant = self.cleaned_data["tenant_id"].strip()
        validate_tenant(tenant)
        return tenant

    def save(self, commit=True):
        channel = super().save(commit=commit)
        if commit:
            self.save_settings(channel)
        return channel

    def save_settings(self, channel):
        """Write the sign-in fields after the channel row: only those given another value, and a
        secret only when one was typed, so a worker's rotated refresh token is never overwritten."""
        stored = self.stored if self.stored is not None else OneDriveSettings(channel=channel)
        for name in SIGN_IN_FIELDS:
            setattr(stored, name, self.cleaned_data[name])
        for name in SECRET_FIELDS:
            if self.cleaned_data.get(name):  # empty keeps what is stored
                setattr(stored, name, self.cleaned_data[name])
        stored.save()
        self.stored = stored
