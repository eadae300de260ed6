"""Which channel receives a new upload."""

from django.db.models import Sum

from channels.models import USABLE_HEALTH, Channel
from uploads.models import StoredFile

# Healthiest first: a degraded or failing channel only when nothing better fits.
PREFERENCE = {Channel.Health.CONNECTED: 0, Channel.Health.DEGRADED: 1, Channel.Health.ERROR: 2}


class NoChannel(Exception):
    def __init__(self, message, status=503):
        super().__init__(message)
        self.status = status


def queued_bytes(channel) -> int:
    """Bytes this site accepted for the channel but has not stored yet: Graph's figures do not show them."""
    pending = StoredFile.objects.filter(
        channel=channel, status__in=[StoredFile.Status.PENDING, StoredFile.Status.UPLOADING]
    )
    return pending.aggregate(total=Sum("size"))["total"] or 0


def fits(channel, size: int) -> bool:
    if channel.quota_state == "exceeded":
        return False
    if channel.quota_remaining is None:
        return True  # unknown: let the upload find out
    return channel.quota_remaining - queued_bytes(channel) >= size


def choose(kind: str = "", name: str = "", size: int = 0) -> Channel:
    kinds = Channel.Kind.values
    if kind and kind not in kinds:
        raise NoChannel(f"Unknown uploadChannel {kind!r}: use one of {', '.join(kinds)}.", status=400)
    channels = Channel.objects.filter(enabled=True)
    if kind:
        channels = channels.filter(kind=kind)
    if name:
        named = channels.filter(name=name).first()
        if named is None:
            raise NoChannel(f"No enabled channel is named {name!r}.", status=400)
        if named.health not in USABLE_HEALTH:
            raise NoChannel(
                f"The channel {name!r} is {named.get_health_display().lower()}: staff must reconnect it."
            )
        if size and not fits(named, size):
            raise NoChannel(
                f"The channel {name!r} is full. Free space there or upload to another channel.", 507
            )
        return named
    usable = sorted(channels.filter(health__in=USABLE_HEALTH), key=lambda c: (PREFERENCE[c.health], c.pk))
    if not usable:
        raise NoChannel(
            "No storage channel is available right now. Try again later or tell the site's staff."
        )
    for channel in usable:
        if not size or fits(channel, size):
            return channel
    raise NoChannel(
        "Every storage channel is full. Tell the site's staff to free space or add a channel.", 507
    )
