from django.core.management.base import BaseCommand, CommandError

from channels.tasks import pull_quotas


class Command(BaseCommand):
    help = (
        "Run the scheduled task pull_quotas once, now (for cron instead of Celery beat). "
        "Prints what it did per channel; exits 1 when one failed."
    )

    def handle(self, *args, **options):
        result = pull_quotas()
        self.stdout.write(result["summary"])
        if result["failed"]:
            raise CommandError(
                f"The quota of {len(result['failed'])} channel(s) could not be read; see above."
            )
