from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from channels import probes
from channels.errors import ChannelError
from channels.local.models import LocalChannel, LocalSettings
from channels.models import Channel


class Command(BaseCommand):
    help = (
        "On a site with no channel at all, add a local-folder channel under the data directory "
        "(IMGBED_DATA_DIR/files), so uploads work before any cloud account is connected. "
        "Does nothing when a channel exists. bin/run calls it."
    )

    def handle(self, *args, **options):
        if Channel.objects.exists():
            return
        path = settings.DATA_DIR.resolve() / "files"
        with transaction.atomic():
            channel = LocalChannel.objects.create(
                name="Local disk",
                root_directory="imgbed",
                note="Made by bin/run so uploads work at once. Add OneDrive or other channels in the admin.",
            )
            LocalSettings.objects.create(channel=channel, path=str(path))
        try:
            probes.check(channel.pk)
        except ChannelError as exc:
            self.stderr.write(f"The local channel in {path} does not work: {exc}")
            return
        self.stdout.write(f"Added the channel 'Local disk': files are stored in {path}.")
