import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgbed_site.settings")

app = Celery("imgbed")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _keep_claims(**kwargs):
    # Before the pool starts: forked pool processes inherit it, and each keeps its own claims.
    from uploads import leases

    leases.enable()
