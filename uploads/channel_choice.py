"""Which channel receives a new upload."""

from dataclasses import dataclass

from django.db import connections, router
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from channels.models import USABLE_HEALTH, Channel
from uploads.models import StoredFile

# Healthiest first: a degraded or failing channel only when nothing better fits.
PREFERENCE = {Channel.Health.CONNECTED: 0, Channel.Health.DEGRADED: 1, Channel.Health.ERROR: 2}
QUEUED = (StoredFile.Status.PENDING, StoredFile.Status.UPLOADING)


class NoChannel(Exception):
    def __init__(self, message, status=503):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Candidate:
    """What choosing needs of an enabled channel, with the bytes queued for it."""

    pk: int
    name: str
    kind: str
    health: str
    quota_state: str
    quota_remaining: int | None
    root_directory: str
    queued: int

    @property
    def health_label(self) -> str:
        return Channel.Health(self.health).label.lower()

    def fits(self, size: int) -> bool:
        if self.quota_state == "exceeded":
            return False
        if self.quota_remaining is None:
            return True  # unknown: let the upload find out
        # Graph's figures do not show what this site accepted but has not stored yet.
        return self.quota_remaining - self.queued >= size


def _candidates_queryset():
    queued = (
        StoredFile.objects.filter(channel=OuterRef("pk"), status__in=QUEUED)
        .order_by()
        .values("channel")
        .annotate(total=Sum("size"))
        .values("total")
    )
    return (
        Channel.objects.filter(enabled=True)
        .order_by("pk")
        .annotate(queued=Coalesce(Subquery(queued), Value(0)))
        .values_list(*Candidate.__dataclass_fields__)
    )


# The query never changes, and compiling it costs more than running it: it
# runs on every upload, so it is compiled once per database alias.
_compiled: dict[str, tuple[str, tuple]] = {}


def candidates() -> list[Candidate]:
    """Every enabled channel, fresh from the database (one query)."""
    alias = router.db_for_read(Channel)
    if alias not in _compiled:
        queryset = _candidates_queryset()
        _compiled[alias] = queryset.query.get_compiler(using=alias).as_sql()
    sql, params = _compiled[alias]
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # int(): PostgreSQL sums a bigint column as numeric.
    return [Candidate(*row[:-1], queued=int(row[-1])) for row in rows]


def choose(kind: str = "", name: str = "", size: int = 0) -> Candidate:
    kinds = Channel.Kind.values
    if kind and kind not in kinds:
        raise NoChannel(f"Unknown uploadChannel {kind!r}: use one of {', '.join(kinds)}.", status=400)
    enabled = [c for c in candidates() if not kind or c.kind == kind]
    if name:
        named = next((c for c in enabled if c.name == name), None)
        if named is None:
            raise NoChannel(f"No enabled channel is named {name!r}.", status=400)
        if named.health not in USABLE_HEALTH:
            raise NoChannel(f"The channel {name!r} is {named.health_label}: staff must reconnect it.")
        if size and not named.fits(size):
            raise NoChannel(
                f"The channel {name!r} is full. Free space there or upload to another channel.", 507
            )
        return named
    usable = sorted((c for c in enabled if c.health in USABLE_HEALTH), key=lambda c: PREFERENCE[c.health])
    if not usable:
        raise NoChannel(
            "No storage channel is available right now. Try again later or tell the site's staff."
        )
    for channel in usable:
        if not size or channel.fits(size):
            return channel
    raise NoChannel(
        "Every storage channel is full. Tell the site's staff to free space or add a channel.", 507
    )
