from django.db import models

from channels.models import Channel, KindManager


class LocalSettings(models.Model):
    """Where a local channel keeps its files."""

    channel = models.OneToOneField(
        "channels.Channel", on_delete=models.CASCADE, primary_key=True, related_name="local_settings"
    )
    path = models.CharField(
        "folder",
        max_length=500,
        help_text="An absolute folder on the machine (or shared disk) of the web process and the workers. "
        "It is created when missing.",
    )

    class Meta:
        verbose_name = "local folder"

    def __str__(self):
        return self.path


class LocalChannel(Channel):
    """The local-folder rows of Channel, with their own admin."""

    KIND = "local"
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        app_label = "channels"
        verbose_name = "local folder channel"
