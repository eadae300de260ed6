"""Which channel receives a new upload."""

import random
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
    """`unconfigured`: the site has no channel at all, so only staff adding one helps."""

    def __init__(self, message, status=503, unconfigured=False):
        super().__init__(message)
        self.status = status
        self.unconfigured = unconfigured


@dataclass(frozen=True)
class Candidate:
    """What choosing needs of an enabled channel, with the bytes queued for it."""

    pk: int
    name: str
    kind: str
    health: str
    priority: int
    weight: int
    capacity: int | None
    fill_threshold: int
    stored_bytes: int
    quota_state: str
    quota_total: int | None
    quota_used: int | None
    quota_remaining: int | None
    root_directory: str
    queued: int

    @property
    def health_label(self) -> str:
        return Channel.Health(self.health).label.lower()

    def _space(self) -> tuple[int | None, int | None]:
        """(total, used) by the provider's figures where it has them, else the staff-set capacity
        and the bytes this site stored there; queued bytes count as used either way, since the
        provider's figures do not show what this site accepted but has not stored yet."""
        if self.quota_total is not None and self.quota_used is not None:
            return self.quota_total, self.quota_used + self.queued
        if self.capacity:
            return self.capacity, self.stored_bytes + self.queued
        return None, None

    def fits(self, size: int) -> bool:
        if self.quota_state == "exceeded":
            return False
        total, used = self._space()
        if self.quota_remaining is not None and self.quota_remaining - self.queued < size:
            return False
        if total is None:
            return True  # unknown: let the upload find out
        if used + size > total:
            return False
        return 100 * used <= self.fill_threshold * total


# ImgBed's names of its kinds, so its clients' uploadChannel keeps working.
KIND_ALIASES = {"cfr2": "s3", "r2": "s3"}


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


def choose(kind: str = "", name: str = "", size: int = 0, exclude=()) -> Candidate:
    """The channel for a new file of `size` bytes: `kind` (uploadChannel) and `name`
    (channelName) choose explicitly, and an explicit choice that cannot take the file is an
    error, never a silent switch. Otherwise the lowest priority number that has a usable
    channel with room, the healthiest of those, and among equals random by weight."""
    kinds = Channel.Kind.values
    kind = KIND_ALIASES.get(kind, kind)
    if kind and kind not in kinds:
        raise NoChannel(f"Unknown uploadChannel {kind!r}: use one of {', '.join(kinds)}.", status=400)
    enabled = [c for c in candidates() if (not kind or c.kind == kind) and c.pk not in exclude]
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
    usable = [c for c in enabled if c.health in USABLE_HEALTH]
    if not usable:
        # Asked only on this failing path: a fresh site has nothing to wait for.
        if not enabled and not exclude and not Channel.objects.exists():
            raise NoChannel(
                "No storage channel is set up yet, so this site cannot store files until its staff add one.",
                unconfigured=True,
            )
        raise NoChannel(
            "No storage channel is available right now. Try again later or tell the site's staff."
        )
    fitting = [c for c in usable if not size or c.fits(size)]
    if not fitting:
        raise NoChannel(
            "Every storage channel is full. Tell the site's staff to free space or add a channel.", 507
        )
    first = min(c.priority for c in fitting)
    tier = [c for c in fitting if c.priority == first]
    best = min(PREFERENCE[c.health] for c in tier)
    tier = [c for c in tier if PREFERENCE[c.health] == best]
    weights = [c.weight for c in tier]
    if not any(weights):  # all set to 0: take them evenly rather than refuse
        weights = None
    return random.choices(tier, weights=weights)[0]  # noqa: S311 (spreading load, not a secret)
