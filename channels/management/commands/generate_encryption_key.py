from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print a new Fernet key for IMGBED_ENCRYPTION_KEYS."

    requires_system_checks = []

    def handle(self, *args, **options):
        self.stdout.write(Fernet.generate_key().decode())
