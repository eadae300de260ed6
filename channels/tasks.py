"""Scheduled upkeep of channels: keep refresh tokens alive, read quotas."""

import datetime
import logging

from celery import shared_task
from django.conf import settings

from channels import probes
from channels.errors import ChannelError
from channels.models import Channel
from channels.onedrive import connection
from channels.onedrive.models import OneDriveSettings
from imgbed_site import runs
from imgbed_site.celery import app as _app  # noqa: F401 (the app these tasks are sent with)

log = logging.getLogger(__name__)

# Needs re-authorisation is left alone: only a person with Get Token can fix it.
KEPT_ALIVE = (Channel.Health.CONNECTED, Channel.Health.DEGRADED, Channel.Health.ERROR)


def _channels():
    with_token = OneDriveSettings.objects.exclude(refresh_token="").values("channel")
    return Channel.objects.filter(kind=Channel.Kind.ONEDRIVE, health__in=KEPT_ALIVE, pk__in=with_token)


def _nothing_to_do(what: str) -> str:
    if not Channel.objects.exists():
        return f"No channel to {what}: none is set up yet."
    waiting = Channel.objects.filter(kind=Channel.Kind.ONEDRIVE).exclude(pk__in=_channels()).count()
    return (
        f"No channel to {what}: {waiting} OneDrive channel(s) are not connected or need Get Token "
        "(left alone until staff reconnect them), and no other kind has one to do."
    )


def refresh_due_in() -> datetime.timedelta:
    # A redemption within half an interval, by any process, already did the job:
    # several beats, a cron job and Test connection do not add calls to Microsoft.
    return datetime.timedelta(seconds=settings.IMGBED_TOKEN_REFRESH_INTERVAL / 2)


def refresh_all(*, force: bool = False) -> runs.Report:
    """Redeem every live channel's refresh token that is due, far inside Microsoft's 90-day limit."""
    report = runs.Report("channels.tasks.refresh_tokens", "refreshed", _nothing_to_do("refresh"))
    not_within = datetime.timedelta(0) if force else refresh_due_in()
    for channel_id, name in _channels().values_list("pk", "name"):
        try:
            kept = connection.keep_alive(channel_id, not_within)
        except ChannelError as exc:
            report.failed[name] = str(exc)
            continue
        if kept.refreshed:
            report.done.append(name)
        else:
            report.skipped[name] = (
                f"not due: refreshed {runs.ago(kept.refreshed_at)}, "
                f"due again {runs.within(kept.refreshed_at + not_within)}"
            )
    return report


def _quota_channels():
    others = Channel.objects.filter(enabled=True).exclude(kind=Channel.Kind.ONEDRIVE)
    return (_channels() | others).order_by("name")


def pull_all() -> runs.Report:
    report = runs.Report("channels.tasks.pull_quotas", "read", _nothing_to_do("read the quota of"))
    for channel_id, name in _quota_channels().values_list("pk", "name"):
        try:
            probes.read_quota(channel_id)
            report.done.append(name)
        except ChannelError as exc:
            report.failed[name] = str(exc)
    return report


@shared_task(bind=True, acks_late=True)
def refresh_tokens(self, force=False):
    report = refresh_all(force=force)
    report.record(runs.via(self.request))
    return report.as_result()


@shared_task(bind=True, acks_late=True)
def pull_quotas(self):
    report = pull_all()
    report.record(runs.via(self.request))
    return report.as_result()


@shared_task(acks_late=True)
def refresh_access_token(channel_id, stale_fingerprint=None):
    """One access token, for callers that hold a refused one (and for the concurrency test).

    The refused token comes as its fingerprint (connection.fingerprint), never itself: task
    arguments stay in the broker and in the result backend. If the stored token is no longer
    that one, another process has replaced it already and the stored one is used."""
    stale = None
    if stale_fingerprint:
        stale = connection.stored_token_with_fingerprint(channel_id, stale_fingerprint)
    connection.access_token(channel_id, stale=stale)
    return "ok"
