import re
from urllib.parse import urlparse

from django import forms
from django.conf import settings

from channels.forms import SHARED_FIELDS, secret_field
from channels.models import normalize_root_directory
from channels.s3.models import S3Channel, S3Settings

# The S3Settings fields this form edits besides the secret, which is write-only.
SETTINGS_FIELDS = ["endpoint_url", "bucket", "region", "access_key_id", "addressing_style", "public_base_url"]

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Characters that need no escaping in a URL path, so links to the objects stay readable.
PREFIX_CHARS = re.compile(r"^[A-Za-z0-9!_.'()/-]*$")


def _setting(name, **overrides):
    field = S3Settings._meta.get_field(name)
    options = {"label": field.verbose_name[:1].upper() + field.verbose_name[1:], "help_text": field.help_text}
    options.update(overrides)
    return options


def _http_url(value, what, *, allow_path):
    """Django's URL check refuses hosts without a dot (http://minio:9000); S3 servers often have one."""
    value = (value or "").strip().rstrip("/")
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise forms.ValidationError(f"Give the {what} as a full address starting with https:// (or http://).")
    if parsed.query or parsed.fragment or (parsed.path and not allow_path):
        raise forms.ValidationError(
            f"Give only the scheme, host and port of the {what} (e.g. https://s3.us-west-004.backblazeb2.com), "
            "without a path: the bucket is set below."
        )
    return value


class S3ChannelForm(forms.ModelForm):
    endpoint_url = forms.CharField(required=False, max_length=500, **_setting("endpoint_url"))
    bucket = forms.CharField(
        max_length=63,
        **_setting(
            "bucket",
            help_text="The bucket's name: 3 to 63 lowercase letters, digits, dots and hyphens. "
            "Create the bucket first; this site does not create it.",
        ),
    )
    region = forms.CharField(required=False, max_length=64, **_setting("region"))
    access_key_id = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 40}),
        **_setting("access_key_id", label="Access key ID"),
    )
    secret_access_key = secret_field(
        "Secret access key", "The secret that belongs to the access key ID. It is stored encrypted."
    )
    addressing_style = forms.ChoiceField(
        required=False,
        choices=S3Settings.Addressing.choices,
        initial=S3Settings.Addressing.PATH,
        **_setting(
            "addressing_style",
            help_text="Path style works with nearly every S3-compatible server (MinIO, R2, B2, Wasabi); "
            "AWS prefers virtual-host style.",
        ),
    )
    public_base_url = forms.CharField(
        required=False, max_length=500, **_setting("public_base_url", label="Public or CDN base URL")
    )

    class Meta:
        model = S3Channel
        fields = [
            "name",
            "endpoint_url",
            "bucket",
            "region",
            "access_key_id",
            "secret_access_key",
            "addressing_style",
            "root_directory",
            "serve_mode",
            "public_base_url",
            *SHARED_FIELDS,
        ]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        labels = {"name": "Channel name", "root_directory": "Key prefix"}
        help_texts = {
            "root_directory": "Objects are stored under this prefix in the bucket (imgbed/<file id>); "
            "imgbed by default.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["root_directory"].required = False
        minutes = max(1, settings.IMGBED_DOWNLOAD_URL_TTL // 60)
        self.fields["serve_mode"] = forms.ChoiceField(
            label="Serving",
            choices=[
                ("proxy", "Proxy: stream through this site; the bucket can stay private"),
                (
                    "redirect",
                    "Redirect: to the public base URL when set, else to a presigned URL "
                    f"valid {minutes} minute{'s' if minutes != 1 else ''}",
                ),
            ],
            initial="proxy",
            help_text="Proxy supports ranges here and hides the bucket; redirect saves this site's bandwidth.",
        )
        self._stored = S3Settings.objects.filter(channel=self.instance).first() if self.instance.pk else None
        if self._stored is not None:
            for name in SETTINGS_FIELDS:
                self.initial.setdefault(name, getattr(self._stored, name))
            if self._has_secret():
                field = self.fields["secret_access_key"]
                field.help_text = "A value is stored and is not shown. Leave empty to keep it."
                field.widget.attrs["placeholder"] = "•••••••• stored"

    def _has_secret(self) -> bool:
        return self._stored is not None and S3Settings._meta.get_field("secret_access_key").is_set(
            self._stored
        )

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_endpoint_url(self):
        return _http_url(self.cleaned_data.get("endpoint_url"), "endpoint URL", allow_path=False)

    def clean_public_base_url(self):
        return _http_url(self.cleaned_data.get("public_base_url"), "public base URL", allow_path=True)

    def clean_bucket(self):
        bucket = self.cleaned_data["bucket"].strip()
        if not BUCKET_NAME.match(bucket) or ".." in bucket:
            raise forms.ValidationError(
                f"{bucket!r} is not a valid bucket name. Bucket names have 3 to 63 characters: lowercase "
                "letters, digits, dots (.) and hyphens (-), and start and end with a letter or digit.",
                code="invalid_bucket",
            )
        return bucket

    def clean_region(self):
        return self.cleaned_data.get("region", "").strip()

    def clean_access_key_id(self):
        return self.cleaned_data["access_key_id"].strip()

    def clean_addressing_style(self):
        return self.cleaned_data.get("addressing_style") or S3Settings.Addressing.PATH

    def clean_root_directory(self):
        prefix = (self.cleaned_data.get("root_directory") or "").strip().strip("/")
        if not PREFIX_CHARS.match(prefix):
            raise forms.ValidationError(
                "Keep the key prefix to letters, digits, slashes (/) and - _ . ! ' ( ), so file URLs need "
                "no escaping (for example imgbed or sites/pics)."
            )
        if ".." in prefix.split("/"):
            raise forms.ValidationError("The key prefix cannot contain '..'.")
        return normalize_root_directory(prefix)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("secret_access_key") and not self._has_secret():
            self.add_error(
                "secret_access_key", "Paste the secret access key that belongs to the access key ID."
            )
        return cleaned

    def save(self, commit=True):
        channel = super().save(commit=commit)
        if commit:
            self.save_settings(channel)
        return channel

    def save_settings(self, channel):
        values = {name: self.cleaned_data[name] for name in SETTINGS_FIELDS}
        if self.cleaned_data.get("secret_access_key"):
            values["secret_access_key"] = self.cleaned_data["secret_access_key"]
        S3Settings.objects.update_or_create(channel=channel, defaults=values)
