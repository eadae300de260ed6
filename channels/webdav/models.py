from django.db import models

from channels.fields import EncryptedTextField
from channels.models import Channel, KindManager


class WebDAVSettings(models.Model):
    """How a WebDAV channel reaches its server. Its root folder is the channel's root directory."""

    channel = models.OneToOneField(
        "channels.Channel", on_delete=models.CASCADE, primary_key=True, related_name="webdav_settings"
    )
    base_url = models.URLField(
        "base URL",
        max_length=500,
        help_text="The server's WebDAV address, e.g. Nextcloud: https://cloud.example.com/remote.php/dav/files/<user>; "
        "alist/OpenList: https://alist.example.com/dav.",
    )
    username = models.CharField("user name", max_length=200, blank=True)
    password = EncryptedTextField(help_text="An app password where the server offers them.")

    class Meta:
        verbose_name = "WebDAV server"

    def __str__(self):
        return self.base_url


class WebDAVChannel(Channel):
    """The WebDAV rows of Channel, with their own admin."""

    KIND = "webdav"
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        app_label = "channels"
        verbose_name = "WebDAV channel"
