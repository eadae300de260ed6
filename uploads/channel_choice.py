"""Which channel receives a new upload."""

from channels.models import Channel

USABLE_HEALTH = (Channel.Health.CONNECTED, Channel.Health.ERROR)


class NoChannel(Exception):
    def __init__(self, message, status=503):
        super().__init__(message)
        self.status = status


def choose(kind: str = "", name: str = "") -> Channel:
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
        return named
    usable = channels.filter(health__in=USABLE_HEALTH).order_by("health", "pk")
    # Connected channels first ("connected" sorts before "error"), then the oldest.
    chosen = usable.first()
    if chosen is None:
        raise NoChannel(
            "No storage channel is available right now. Try again later or tell the site's staff."
        )
    return chosen
