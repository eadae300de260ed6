"""One beat per site, however many are started: a lease in the site's database.

Every beat (the worker's beat thread, or `celery beat`) runs LeaseScheduler.
Only the one holding the lease (imgbed_site.models.BeatLease) sends the
periodic tasks; it renews the lease every few seconds. Any other beat, on this
machine or another, sends nothing and stands by: it takes the lease over once
it lapses (its holder was killed, or its host cut off), within IMGBED_BEAT_LEASE
seconds and a few more. A beat that stops releases the lease, so a standby takes
over at its next check.

The schedule file (celerybeat-schedule) is opened only while leading: two beats
opening one file at once would have Celery take it for corrupt and delete it.
"""

import datetime
import logging
import os
import secrets
import socket
import time

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)


def new_holder() -> str:
    """This beat's name in the lease: its host and process, and a random part for a reused pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def take(holder: str, seconds: float | None = None) -> bool:
    """Take or renew the lease for `seconds` (IMGBED_BEAT_LEASE); False while another holds it."""
    from imgbed_site.models import BeatLease

    now = timezone.now()
    until = now + datetime.timedelta(seconds=settings.IMGBED_BEAT_LEASE if seconds is None else seconds)
    # One conditional UPDATE: of two beats checking at once, only one can match a lapsed lease.
    lease = BeatLease.objects.filter(pk=BeatLease.SINGLETON_PK)
    if lease.filter(Q(holder=holder) | Q(until__lt=now)).update(holder=holder, until=until):
        return True
    try:
        with transaction.atomic():
            BeatLease.objects.create(pk=BeatLease.SINGLETON_PK, holder=holder, until=until)
    except IntegrityError:  # the row is there: another beat holds it (or made it just now)
        return False
    return True


def release(holder: str) -> None:
    """End the lease now, if `holder` still has it: a standby takes over at its next check."""
    from imgbed_site.models import BeatLease

    BeatLease.objects.filter(pk=BeatLease.SINGLETON_PK, holder=holder).update(until=timezone.now())


def current():
    """The lease row, or None."""
    from imgbed_site.models import BeatLease

    return BeatLease.objects.filter(pk=BeatLease.SINGLETON_PK).first()


def renew_every() -> float:
    # Several renewals per lease, however short it is configured.
    return min(5.0, settings.IMGBED_BEAT_LEASE / 3)


class LeaseScheduler(PersistentScheduler):
    """Celery's scheduler (its schedule file), sending only while this beat holds the lease."""

    def __init__(self, *args, **kwargs):
        self.holder = new_holder()
        self.leading = False
        self._checked_at = None  # time.monotonic() of the last lease check
        self._said = None  # why this beat last said it stands by
        super().__init__(*args, **kwargs)

    def setup_schedule(self):
        # Nothing yet: the schedule file is opened once this beat leads (see _lead).
        pass

    def tick(self, *args, **kwargs):
        if self._checked_at is None or time.monotonic() - self._checked_at >= renew_every():
            self._check()
        if not self.leading:
            return min(self.max_interval, renew_every())
        return min(super().tick(*args, **kwargs), renew_every())

    def _check(self):
        close_old_connections()
        try:
            leading = take(self.holder)
            lease = None if leading else current()
        except Exception as exc:  # the database restarting, unreachable: try again at the next check
            self._stand_by(
                "unchecked",
                f"cannot check the site's schedule lease ({type(exc).__name__}: {exc}); "
                "standing by until the database answers",
            )
        else:
            if leading:
                self._lead()
            elif lease is not None:
                self._stand_by(
                    "held",
                    f"another beat holds the site's schedule (holder {lease.holder} until "
                    f"{lease.until:%Y-%m-%d %H:%M:%S}); standing by",
                )
            else:  # the row went between the two queries: take it at the next check
                self._stand_by("free", "no beat holds the site's schedule; standing by")
        finally:
            self._checked_at = time.monotonic()
            close_old_connections()

    def _lead(self):
        if not self.leading:
            log.info("beat: this beat sends the site's schedule (%s)", self.holder)
            PersistentScheduler.setup_schedule(self)
            self._heap = None  # built from the file's entries at the next tick
            self.leading = True
        self._said = None

    def _stand_by(self, why, message):
        if self.leading:
            # Another beat may open the schedule file now.
            self.leading = False
            self._close_store()
        if self._said != why:  # said once, not at every check
            (log.warning if why == "unchecked" else log.info)("beat: %s", message)
        self._said = why

    def _close_store(self):
        if self._store is not None:
            try:
                self._store.sync()
                self._store.close()
            finally:
                self._store = None
                self._heap = None

    def close(self):
        try:
            super().close()
        finally:
            self._store = None
            if self.leading:
                self.leading = False
                close_old_connections()
                try:
                    release(self.holder)
                    log.info("beat: released the site's schedule lease")
                except Exception as exc:  # it lapses by itself after IMGBED_BEAT_LEASE
                    log.warning("beat: could not release the site's schedule lease (%s)", exc)
                finally:
                    close_old_connections()

    def get_schedule(self):
        # Celery's banner and remote control read the entries; a standby has no file open.
        return self._store["entries"] if self._store is not None else {}

    def set_schedule(self, schedule):
        if self._store is not None:
            self._store["entries"] = schedule

    schedule = property(get_schedule, set_schedule)
