"""Recording what each run of a scheduled task did, for the operations page and for cron's mail.

A task's status in Celery only says that its code returned; a refresh that
redeemed nothing, or a quota pull whose every channel failed, returned too.
The record says what happened, channel by channel, in words.
"""

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from imgbed_site.models import ScheduledRun

Outcome = ScheduledRun.Outcome

# Older runs than these are of no use to anyone reading the operations page.
KEEP_PER_TASK = 50


@dataclass
class Report:
    """Per-item results of one run: done, skipped (with why) and failed (with the error)."""

    task: str
    done_word: str
    nothing_to_do: str
    started_at: object = field(default_factory=timezone.now)
    done: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        if self.failed:
            return Outcome.PARTIAL if self.done or self.skipped else Outcome.FAILED
        return Outcome.OK if self.done or self.skipped else Outcome.NOTHING

    def lines(self) -> list[str]:
        if not (self.done or self.skipped or self.failed):
            return [self.nothing_to_do]
        return (
            [f"{name}: {self.done_word}." for name in self.done]
            + [f"{name}: skipped, {why}." for name, why in self.skipped.items()]
            + [f"{name}: failed: {error}" for name, error in self.failed.items()]
        )

    @property
    def summary(self) -> str:
        return "\n".join(self.lines())

    def as_result(self) -> dict:
        return {
            self.done_word: self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "outcome": str(self.outcome),
            "summary": self.summary,
        }

    def record(self, via: str) -> ScheduledRun:
        return record(self.task, self.started_at, self.outcome, self.summary, via)


def record(task: str, started_at, outcome: str, summary: str, via: str) -> ScheduledRun:
    run = ScheduledRun.objects.create(
        task=task,
        started_at=started_at,
        finished_at=timezone.now(),
        outcome=outcome,
        summary=summary,
        via=via,
    )
    old = ScheduledRun.objects.filter(task=task).order_by("-finished_at")[KEEP_PER_TASK:]
    ScheduledRun.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    return run


def via(task_request) -> str:
    """'command' when a management command (cron) called the task's function, 'worker' under Celery."""
    return "command" if task_request.called_directly else "worker"


def latest(task: str) -> ScheduledRun | None:
    return ScheduledRun.objects.filter(task=task).order_by("-finished_at").first()


def ago(moment) -> str:
    return timesince(moment).replace("\xa0", " ") + " ago"


def within(moment) -> str:
    """'in 3 hours', or 'now' for a moment already past."""
    if moment <= timezone.now():
        return "now"
    return "in " + timeuntil(moment).replace("\xa0", " ")
