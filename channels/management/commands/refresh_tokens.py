from django.core.management.base import BaseCommand, CommandError

from channels.tasks import refresh_tokens


class Command(BaseCommand):
    help = (
        "Run the scheduled task refresh_tokens once, now (for cron instead of Celery beat): redeem each "
        "connected channel's refresh token that is due (not redeemed within half of "
        "IMGBED_TOKEN_REFRESH_INTERVAL). Prints what it did per channel; exits 1 when one failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Redeem every token now, due or not.")

    def handle(self, *args, force=False, **options):
        result = refresh_tokens(force=force)
        self.stdout.write(result["summary"])
        if result["failed"]:
            raise CommandError(f"{len(result['failed'])} channel(s) could not be refreshed; see above.")
