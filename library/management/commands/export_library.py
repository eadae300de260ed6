"""python manage.py export_library FILE: the library as JSON, for a backup or a move to another site."""

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from channels.crypto import SecretDecryptionError
from library.backup.export import Summary, stream


class Command(BaseCommand):
    help = (
        "Write every stored file's record (with its old links, tags and access state), the tags, the "
        "channels and the site settings as JSON. Files still pending, uploading or failed are left out: "
        "their bytes are only in staging."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Where to write the export; - for standard output.")
        parser.add_argument(
            "--with-secrets",
            action="store_true",
            help="Include the channels' settings with their secrets, encrypted under this site's "
            "IMGBED_ENCRYPTION_KEYS, so that an import on a site with the same key creates the channels.",
        )

    def handle(self, *args, file, with_secrets, **options):
        summary = Summary()
        try:
            if file == "-":
                for piece in stream(with_secrets, summary):
                    self.stdout.write(piece, ending="")
                self.stdout.flush()
                self.stderr.write(summary.words())
                return
            self._write(Path(file), with_secrets, summary)
        except SecretDecryptionError as exc:
            raise CommandError(f"Cannot export the channels' secrets: {exc}") from None
        self.stdout.write(f"Wrote {file}.\n{summary.words()}")

    def _write(self, target: Path, with_secrets: bool, summary: Summary):
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.is_dir():
            raise CommandError(f"There is no folder {folder} to write {target.name} in.")
        # Written beside the target and renamed into place: an export that fails midway never
        # leaves a partial file under the name of a good one.
        try:
            fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".partial")
        except OSError as exc:
            raise CommandError(f"Cannot write in {folder}: {exc.strerror}.") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for piece in stream(with_secrets, summary):
                    out.write(piece)
            os.chmod(partial, 0o600)  # uploader addresses, and maybe encrypted secrets
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
