from urllib.parse import urlsplit

from django import forms

from channels.forms import SHARED_FIELDS, secret_field
from channels.models import normalize_root_directory
from channels.webdav.models import WebDAVChannel, WebDAVSettings

SERVER_FIELDS = ["base_url", "username", "password"]

BASE_URL_HELP = (
    "The server's WebDAV address. Nextcloud: https://cloud.example.com/remote.php/dav/files/USER "
    "(ownCloud: https://owncloud.example.com/remote.php/dav/files/USER, or .../remote.php/webdav); "
    "alist/OpenList: https://alist.example.com/dav; Synology (WebDAV Server package): "
    "https://nas.example.com:5006 (5005 for plain http)."
)
SIGN_IN_HELP = (
    "Nextcloud and ownCloud: an app password (Settings > Security > Devices & sessions), "
    "required when two-factor sign-in is on. Others: the user's password."
)


class WebDAVChannelForm(forms.ModelForm):
    base_url = forms.URLField(
        label="Base URL", max_length=500, assume_scheme="https", help_text=BASE_URL_HELP
    )
    username = forms.CharField(label="User name", max_length=200, required=False)
    password = secret_field("Password", SIGN_IN_HELP)

    class Meta:
        model = WebDAVChannel
        fields = ["name", "base_url", "username", "password", "root_directory", *SHARED_FIELDS]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        labels = {"name": "Channel name", "root_directory": "Root folder"}
        help_texts = {
            "root_directory": "Folder under the base URL that receives the files, created when missing; "
            "imgbed by default."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["root_directory"].required = False
        self.fields["username"].widget.attrs["autocomplete"] = "off"
        self.stored = (
            WebDAVSettings.objects.filter(channel=self.instance).first() if self.instance.pk else None
        )
        if self.stored is not None:
            self.initial.setdefault("base_url", self.stored.base_url)
            self.initial.setdefault("username", self.stored.username)
            if self.stored._meta.get_field("password").is_set(self.stored):
                self.fields[
                    "password"
                ].help_text = "A password is stored and is not shown. Leave empty to keep it."
                self.fields["password"].widget.attrs["placeholder"] = "•••••••• stored"

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise forms.ValidationError("Give an http:// or https:// address.")
        if parts.username or parts.password:
            raise forms.ValidationError(
                "Put the user name and password in their own fields, not in the address."
            )
        if parts.query or parts.fragment:
            raise forms.ValidationError("Give the WebDAV folder's address without ? or # parts.")
        return url.rstrip("/")

    def clean_root_directory(self):
        return normalize_root_directory(self.cleaned_data.get("root_directory") or "")

    def clean(self):
        cleaned = super().clean()
        has_password = self.stored is not None and self.stored._meta.get_field("password").is_set(self.stored)
        if cleaned.get("username") and not cleaned.get("password") and not has_password:
            self.add_error("password", "Give the password (or app password) for this user.")
        return cleaned

    def save(self, commit=True):
        channel = super().save(commit=commit)
        if commit:
            self.save_settings(channel)
        return channel

    def save_settings(self, channel):
        values = {
            "base_url": self.cleaned_data["base_url"],
            "username": self.cleaned_data["username"].strip(),
        }
        if self.cleaned_data.get("password"):  # empty keeps the stored password
            values["password"] = self.cleaned_data["password"]
        WebDAVSettings.objects.update_or_create(channel=channel, defaults=values)
