"""One beat per site: the lease in the database, and two Procfile workers each with its beat thread."""

import datetime
import os
import signal

import pytest
from django.utils import timezone

from imgbed_site import beat
from imgbed_site.models import BeatLease
from tests.test_procfile_worker import procfile_worker  # noqa: F401 (a fixture)
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_first_beat_takes_the_lease_and_renews_it():
    assert beat.take("a", seconds=30)
    first = BeatLease.objects.get().until
    assert beat.take("a", seconds=60)
    lease = BeatLease.objects.get()
    assert (lease.holder, lease.until > first) == ("a", True)


def test_another_beat_cannot_take_a_valid_lease():
    assert beat.take("a", seconds=30)
    assert not beat.take("b", seconds=30)
    assert BeatLease.objects.get().holder == "a"


def test_another_beat_takes_a_lapsed_lease_and_the_first_cannot_renew_it():
    assert beat.take("a", seconds=30)
    BeatLease.objects.update(until=timezone.now() - datetime.timedelta(seconds=1))  # "a" died
    assert beat.take("b", seconds=30)
    assert not beat.take("a", seconds=30)
    assert BeatLease.objects.get().holder == "b"


def test_a_released_lease_is_taken_at_once_and_only_its_holder_releases_it():
    assert beat.take("a", seconds=30)
    beat.release("b")
    assert not beat.take("b", seconds=30)
    beat.release("a")
    assert beat.take("b", seconds=30)
    assert BeatLease.objects.count() == 1


def test_a_standby_scheduler_sends_nothing_and_says_so_once(settings, caplog, tmp_path):
    from imgbed_site.celery import app

    assert beat.take("the other beat", seconds=60)
    scheduler = beat.LeaseScheduler(app, schedule_filename=str(tmp_path / "schedule"))
    sent = []
    scheduler.apply_entry = lambda entry, producer=None: sent.append(entry.name)
    with caplog.at_level("INFO", logger="imgbed_site.beat"):
        for _ in range(3):
            scheduler._checked_at = None  # check the lease at every tick
            assert 0 < scheduler.tick() <= 5
    assert sent == []
    assert not list(tmp_path.iterdir())  # the schedule file is left to the leader
    standing_by = [r.message for r in caplog.records if "standing by" in r.message]
    assert len(standing_by) == 1
    assert "another beat holds the site's schedule (holder the other beat until" in standing_by[0]

    beat.release("the other beat")
    scheduler._checked_at = None
    scheduler.tick()
    assert scheduler.leading and BeatLease.objects.get().holder == scheduler.holder
    scheduler.close()
    assert BeatLease.objects.get().until <= timezone.now()  # released: a standby takes over at once


def test_a_database_error_makes_a_standby_not_a_crash(monkeypatch, caplog, tmp_path):
    from django.db import OperationalError

    from imgbed_site.celery import app

    scheduler = beat.LeaseScheduler(app, schedule_filename=str(tmp_path / "schedule"))
    scheduler.tick()
    assert scheduler.leading

    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(beat, "take", refused)
    scheduler._checked_at = None
    with caplog.at_level("WARNING", logger="imgbed_site.beat"):
        assert scheduler.tick() > 0
    assert not scheduler.leading
    assert "cannot check the site's schedule lease" in caplog.text
    monkeypatch.undo()
    scheduler._checked_at = None
    scheduler.tick()
    assert scheduler.leading  # its own lease, renewed once the database answers
    scheduler.close()


SENT = "Scheduler: Sending due task reconcile-uploads"
LEASE = 8
SHORT = {"IMGBED_RECONCILE_INTERVAL": 1, "IMGBED_BEAT_LEASE": LEASE}


def sent(worker) -> int:
    return worker.output().count(SENT)


def two_workers(procfile_worker, lease=LEASE):  # noqa: F811
    """Two Procfile worker lines on one database, broker and schedule file: one leads, one stands by."""
    first = procfile_worker(**{**SHORT, "IMGBED_BEAT_LEASE": lease})
    first.wait_until(lambda: sent(first) >= 1, 60, "the first worker's beat to send reconcile-uploads")
    second = procfile_worker(**{**SHORT, "IMGBED_BEAT_LEASE": lease})
    second.wait_until(lambda: "another beat holds the site's schedule" in second.output(), 60, "a standby")
    # The leader goes on sending while the second one runs; the second sends nothing.
    already = sent(first)
    first.wait_until(lambda: sent(first) >= already + 3, 60, "the leader to send reconcile-uploads again")
    assert sent(second) == 0
    return first, second


def test_a_second_worker_beat_stands_by_and_takes_over_when_the_leader_is_killed(procfile_worker):  # noqa: F811
    leader, standby = two_workers(procfile_worker)
    held = BeatLease.objects.get()
    assert held.holder.split(":")[1] == str(leader.pid)

    os.kill(leader.pid, signal.SIGKILL)  # no chance to release the lease
    leader.popen.wait(10)
    killed_at = timezone.now()
    standby.wait_until(lambda: sent(standby) >= 1, LEASE + 60, "the standby to take over and send")
    took = timezone.now()
    assert BeatLease.objects.get().holder.split(":")[1] == str(standby.pid)
    assert "this beat sends the site's schedule" in standby.output()
    # It waited for the dead leader's lease to lapse, and sends on schedule from then on.
    assert took >= held.until
    standby.wait_until(lambda: sent(standby) >= 3, 60, "the new leader to go on sending")
    for worker in (leader, standby):
        assert "Removing corrupted schedule file" not in worker.output()
    print(f"took over {(took - killed_at).total_seconds():.1f} s after the kill (lease {LEASE} s)")


def test_a_stopped_leader_releases_the_lease_and_the_standby_takes_over_at_once(procfile_worker):  # noqa: F811
    leader, standby = two_workers(procfile_worker, lease=120)
    renewed_until = BeatLease.objects.get().until  # two minutes on: the lease would lapse then
    os.kill(leader.pid, signal.SIGTERM)  # as a Procfile runner stops it
    leader.popen.wait(60)
    assert "beat: released the site's schedule lease" in leader.output()
    standby.wait_until(lambda: sent(standby) >= 1, 60, "the standby to take over and send")
    # Taken over on the release, not once the stopped leader's last renewal lapsed.
    assert timezone.now() < renewed_until
    assert BeatLease.objects.get().holder.split(":")[1] == str(standby.pid)


def test_the_procfile_beat_line_beside_a_worker_stands_by(procfile_worker, start_beat):  # noqa: F811
    worker = procfile_worker(**SHORT)
    worker.wait_until(lambda: sent(worker) >= 1, 60, "the worker's beat to send reconcile-uploads")
    beat_process = start_beat(**SHORT)  # `celery beat`, as the Procfile's commented-out line runs it
    wait_for(
        lambda: "another beat holds the site's schedule" in beat_process.log(), what="the beat to stand by"
    )
    already = sent(worker)
    worker.wait_until(lambda: sent(worker) >= already + 3, 60, "the worker's beat to send again")
    assert SENT not in beat_process.log()
