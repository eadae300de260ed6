from django.core.management.base import BaseCommand

from uploads.tasks import reconcile_uploads


class Command(BaseCommand):
    help = "Run the scheduled task reconcile_uploads once, now (for cron instead of Celery beat)."

    def handle(self, *args, **options):
        self.stdout.write(reconcile_uploads()["summary"])
