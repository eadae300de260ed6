"""Scheduled upkeep of channels: keep refresh tokens alive, read quotas."""

import datetime
import logging

from celery import shared_task
from django.conf import settings

from channels.errors import ChannelError
from channels.models import Channel
from channels.onedrive import connection

log = logging.getLogger(__name__)

# Needs re-authorisation is left alone: only a person with Get Token can fix it.
KEPT_ALIVE = (Channel.Health.CONNECTED, Channel.Health.DEGRADED, Channel.Health.ERROR)


def _channels():
    return Channel.objects.filter(kind=Channel.Kind.ONEDRIVE, health__in=KEPT_ALIVE).exclude(refresh_token="")


@shared_task(acks_late=True)
def refresh_tokens():
    """Redeem every live channel's refresh token, far inside Microsoft's 90-day inactivity limit."""
    # Another process that refreshed within half an interval already did the job.
    recent = datetime.timedelta(seconds=settings.IMGBED_TOKEN_REFRESH_INTERVAL / 2)
    done, failed = [], {}
    for channel_id in _channels().values_list("pk", flat=True):
        try:
            connection.access_token(channel_id, force=True, unless_refreshed_within=recent)
            done.append(channel_id)
        except ChannelError as exc:
            failed[channel_id] = str(exc)
    return {"refreshed": done, "failed": failed}


@shared_task(acks_late=True)
def pull_quotas():
    done, failed = [], {}
    for channel_id in _channels().values_list("pk", flat=True):
        try:
            connection.pull_quota(channel_id)
            done.append(channel_id)
        except ChannelError as exc:
            failed[channel_id] = str(exc)
    return {"read": done, "failed": failed}


@shared_task(acks_late=True)
def refresh_access_token(channel_id, stale=None):
    """One access token, for callers that hold a refused one (and for the concurrency test)."""
    connection.access_token(channel_id, stale=stale)
    return "ok"
