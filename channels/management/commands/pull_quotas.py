from django.core.management.base import BaseCommand

from channels.tasks import pull_quotas


class Command(BaseCommand):
    help = "Run the scheduled task pull_quotas once, now (for cron instead of Celery beat)."

    def handle(self, *args, **options):
        result = pull_quotas()
        self.stdout.write(str(result))
        if result.get("failed"):
            raise SystemExit(1)
