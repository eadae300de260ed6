from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from channels import crypto
from channels.fields import Ciphertext, EncryptedTextField


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the newest key in IMGBED_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args, **options):
        rotated = already = 0
        try:
            with transaction.atomic():
                for model in apps.get_models():
                    names = [
                        f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
                    ]
                    if not names or model._meta.proxy:
                        continue
                    for row in model._base_manager.select_for_update().values("pk", *names):
                        changes = {}
                        for name in names:
                            token = row[name]
                            if not token:
                                continue
                            if crypto.newest_key_encrypted(token):
                                already += 1
                                continue
                            what = f"{model.__name__} {row['pk']} {name}"
                            changes[name] = Ciphertext(crypto.rotate(token, what=what))
                        if changes:
                            model._base_manager.filter(pk=row["pk"]).update(**changes)
                            rotated += len(changes)
        except crypto.SecretDecryptionError as exc:
            raise CommandError(f"{exc} Nothing was changed.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {rotated} secret(s) under the newest key; {already} already were."
            )
        )
