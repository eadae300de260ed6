"""python manage.py import_library FILE: an export of export_library back into this site."""

import io
import sys

from django.core.management.base import BaseCommand, CommandError

from library.backup.restore import BadExport, opened, restore


class Command(BaseCommand):
    help = (
        "Restore files, old links, tags, access states, channels and site settings from an export. "
        "Run it again as often as needed: a file already here (the same public id) is updated, never "
        "copied."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The export; - to read it from standard input.")

    def handle(self, *args, file, **options):
        name = "standard input" if file == "-" else file
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8") if file == "-" else None
        try:
            with opened(file, stdin) as fh:
                outcome = restore(fh, name)
        except BadExport as exc:
            raise CommandError(str(exc)) from None
        made = f", exported {outcome.exported_at}" if outcome.exported_at else ""
        source = f" from {outcome.site_url}" if outcome.site_url else ""
        self.stdout.write(f"Imported {name}{made}{source}.\n{outcome.words()}")
        if outcome.skipped:
            raise CommandError(
                f"{outcome.skipped_files} files were not imported, for the reasons above. The rest is in; "
                "deal with those reasons and run import again (it leaves what is already here as it is)."
            )
