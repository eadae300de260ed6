import os

import click
from celery import Celery, bootsteps
from celery.signals import worker_init
from celery.utils.log import get_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgbed_site.settings")

app = Celery("imgbed")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class BeatThread(bootsteps.StartStopStep):
    """Beat as a thread of the worker process, with `--beat-thread=true`.

    Celery's own `--beat` runs it in a child process (`celery beat` on its own holds some
    80 MiB) for a scheduler that wakes up every few seconds. Only the beat holding the site's lease
    (imgbed_site.beat) sends the schedules; on other workers `--beat-thread=false`
    saves a thread that would stand by.
    """

    label = "Beat thread"
    conditional = True
    requires = ("celery.worker.components:Pool",)

    def __init__(self, w, beat_thread=False, **kwargs):
        self.enabled = bool(beat_thread)
        super().__init__(w, **kwargs)

    def create(self, w):
        from celery.beat import EmbeddedService

        return EmbeddedService(
            w.app, schedule_filename=w.schedule_filename, scheduler_cls=w.scheduler, thread=True
        )

    def start(self, w):
        # Said before the worker says it is ready (this runs first), so its absence then means no beat here.
        get_logger(__name__).info("beat: runs as a thread of this worker (--beat-thread)")
        super().start(w)


app.user_options["worker"].add(
    click.Option(
        ["--beat-thread"],
        type=click.BOOL,
        default=False,
        show_default=True,
        help="Run beat (the periodic tasks) as a thread of this worker; one beat per site sends them, others stand by.",
    )
)
app.steps["worker"].add(BeatThread)


@worker_init.connect
def _keep_claims(**kwargs):
    # Before the pool starts: a threads pool shares it in this process; forked (prefork) pool
    # processes inherit it, and each keeps its own claims.
    from uploads import leases

    leases.enable()
