from django.db import models


class ScheduledRun(models.Model):
    """How one run of a scheduled task ended, whether beat or cron (a management command) ran it."""

    class Outcome(models.TextChoices):
        OK = "ok", "Done"
        NOTHING = "nothing", "Nothing to do"
        PARTIAL = "partial", "Partly failed"
        FAILED = "failed", "Failed"

    task = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    summary = models.TextField(help_text="What the run did, in words.")
    via = models.CharField(max_length=20, help_text="worker (beat) or command (cron, by hand).")

    class Meta:
        indexes = [models.Index(fields=["task", "-finished_at"])]
        ordering = ["-finished_at"]

    def __str__(self):
        return f"{self.task} at {self.finished_at:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"

    @property
    def ok(self) -> bool:
        return self.outcome in (self.Outcome.OK, self.Outcome.NOTHING)
