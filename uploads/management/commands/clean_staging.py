from django.core.management.base import BaseCommand

from uploads.tasks import clean_staging


class Command(BaseCommand):
    help = "Run the scheduled task clean_staging once, now (for cron instead of Celery beat)."

    def handle(self, *args, **options):
        self.stdout.write(clean_staging()["summary"])
