"""python manage.py rescan_channel NAME: records for the files a channel holds that the site lost."""

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from channels.errors import ChannelError
from channels.models import Channel
from library.rescan import rescan


class Command(BaseCommand):
    help = (
        "List the files under a channel's root directory and add a stored-file record for each that "
        "has none (its public id is its path below the root directory). Existing records are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The channel's name, as the admin shows it.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be added; change nothing."
        )
        parser.add_argument(
            "--hash",
            action="store_true",
            help="Read each new file's bytes: its SHA-256, the content type its bytes say and an image's "
            "size (without it, the type comes from the name and the SHA-256 stays empty).",
        )

    def handle(self, *args, name, dry_run, hash, **options):
        channel = Channel.objects.filter(name=name).first()
        if channel is None:
            known = ", ".join(Channel.objects.order_by("name").values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No channel is named {name!r} (channels: {known}).")
        verb = "would add" if dry_run else "added"

        def added(public_id, size):
            self.stdout.write(f"{verb} {public_id} ({filesizeformat(size)})")

        try:
            report = rescan(channel, dry_run=dry_run, with_hash=hash, on_add=added)
        except ChannelError as exc:
            if exc.permanent:
                advice = (
                    "Fix the channel's settings in the admin (its Test connection says what works), then run "
                    "rescan_channel again."
                )
            else:
                advice = "Try again later; files added before this stay added."
            raise CommandError(f"Cannot list the files of channel {name}: {exc} {advice}") from None
        self.stdout.write(report.words())
