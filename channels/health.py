"""Recording how a channel is doing, from any caller that talked to it."""

import datetime

from django.db.models import Q
from django.utils import timezone

from channels.errors import ChannelError, ReauthorizationRequired
from channels.models import Channel

Health = Channel.Health


def record_failure(channel_id: int, exc: ChannelError) -> None:
    if isinstance(exc, ReauthorizationRequired):
        health = Health.NEEDS_REAUTH
    elif exc.permanent:
        health = Health.ERROR
    else:
        health = Health.DEGRADED
    channels = Channel.objects.filter(pk=channel_id)
    if health == Health.DEGRADED:
        # Throttling says nothing about a grant already known to be dead.
        channels = channels.exclude(health=Health.NEEDS_REAUTH)
    channels.update(
        health=health, last_error=str(exc), last_error_at=timezone.now(), updated_at=timezone.now()
    )


def pause(channel_id: int, seconds: float) -> datetime.datetime:
    """Hold the channel's uploads for `seconds` (never shortening a longer pause); returns until when."""
    until = timezone.now() + datetime.timedelta(seconds=seconds)
    Channel.objects.filter(pk=channel_id).filter(
        Q(paused_until__isnull=True) | Q(paused_until__lt=until)
    ).update(paused_until=until)
    return until


def record_success(channel_id: int) -> None:
    """A call went through: a degraded or failing channel has recovered."""
    Channel.objects.filter(pk=channel_id, health__in=[Health.DEGRADED, Health.ERROR]).update(
        health=Health.CONNECTED, last_error="", updated_at=timezone.now()
    )
