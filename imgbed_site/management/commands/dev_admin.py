import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Laptop only: make sure a superuser 'admin' exists and print its password."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("dev_admin is for laptop runs (DEBUG=true). On a server use createsuperuser.")
        path = settings.DATA_DIR / "dev-admin-password"
        User = get_user_model()
        user = User.objects.filter(username="admin").first()
        if path.exists() and user is not None:
            self.stdout.write(path.read_text().strip())
            return
        password = secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_superuser("admin", "admin@localhost", password)
        else:
            user.set_password(password)
            user.save()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
        path.chmod(0o600)
        self.stdout.write(password)
