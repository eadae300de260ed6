from django.core.management.base import BaseCommand

from channels.tasks import refresh_tokens


class Command(BaseCommand):
    help = "Run the scheduled task refresh_tokens once, now (for cron instead of Celery beat)."

    def handle(self, *args, **options):
        result = refresh_tokens()
        self.stdout.write(str(result))
        if result.get("failed"):
            raise SystemExit(1)
