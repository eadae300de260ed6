"""Asking any channel, whatever its kind, whether it works and how much space it has.

Each records what it found on the row (health, last error, quota figures and
a history sample), writing only those fields.
"""

from django.utils import timezone

from channels import health
from channels.backends import backend_for
from channels.errors import ChannelError
from channels.models import Channel, QuotaSample

QUOTA_FIELDS = [
    "quota_total",
    "quota_used",
    "quota_remaining",
    "quota_deleted",
    "quota_state",
    "quota_read_at",
]


def check(channel_id: int) -> str:
    """Test connection: write, read back and delete, in the kind's own way. Raises ChannelError."""
    channel = Channel.objects.get(pk=channel_id)
    try:
        done = backend_for(channel).check()
    except ChannelError as exc:
        health.record_failure(channel_id, exc)
        raise
    Channel.objects.filter(pk=channel_id).update(
        health=Channel.Health.CONNECTED, last_error="", checked_at=timezone.now(), updated_at=timezone.now()
    )
    if channel.kind != Channel.Kind.ONEDRIVE:  # OneDrive's check reads its quota itself
        read_quota(channel_id)
    return done


def read_quota(channel_id: int) -> Channel:
    channel = Channel.objects.get(pk=channel_id)
    try:
        quota = backend_for(channel).quota()
    except ChannelError as exc:
        health.record_failure(channel_id, exc)
        raise
    if channel.kind == Channel.Kind.ONEDRIVE:
        return Channel.objects.get(pk=channel_id)  # recorded by the OneDrive connection already
    channel.quota_total, channel.quota_used, channel.quota_remaining = (
        quota.total,
        quota.used,
        quota.remaining,
    )
    channel.quota_deleted, channel.quota_state = quota.deleted, quota.state
    channel.quota_read_at = timezone.now()
    channel.save(update_fields=[*QUOTA_FIELDS, "updated_at"])
    if quota.total is not None and quota.used is not None:
        QuotaSample.objects.create(
            channel=channel, total=quota.total, used=quota.used, remaining=quota.remaining, state=quota.state
        )
    health.record_success(channel_id)
    return channel
