"""The Procfile's worker line, run as a Procfile runner runs it: uploads run in threads of that
one process, and beat's schedules run in it too, unless IMGBED_WORKER_BEAT=false (a site's
other workers, where one beat already runs)."""

import os
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from tests.files import png
from tests.processes import Spawned, descendants
from tests.test_access_log import procfile_line
from tests.test_upkeep import flush_broker
from tests.worker import ROOT, wait_for, worker_env
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def procfile_worker(celery_processes, tmp_path):
    started, emulator = celery_processes
    spawned = []

    def start(**extra):
        env = worker_env(emulator, **extra)
        # As in a deployment's virtualenv: the line's `python` is this one.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        worker = Spawned(
            ["/bin/sh", "-c", "exec " + procfile_line("worker")],
            env,
            ROOT,
            tmp_path / f"worker-{len(spawned)}.log",
        )
        spawned.append(worker)
        worker.wait_until(lambda: " ready." in worker.output(), 90, "the worker to be ready")
        return worker

    yield start
    for worker in spawned:
        worker.stop()


@pytest.fixture
def code(channel, onedrive_settings):
    from uploads.models import UploadCode

    channel.health = Channel.Health.CONNECTED
    channel.save()
    upload_code = UploadCode(label="t")
    upload_code.set_code("c")
    upload_code.save()
    return "c"


def test_the_worker_line_alone_runs_uploads_and_the_schedules(client, code, emulator, procfile_worker):
    files = [png(10_000 + i) for i in range(6)]
    for i, data in enumerate(files):
        response = client.post(f"/upload?authCode={code}", {"file": SimpleUploadedFile(f"f{i}.png", data)})
        assert response.status_code == 200
    flush_broker()  # only beat's reconcile_uploads can send these now
    worker = procfile_worker(IMGBED_RECONCILE_INTERVAL=1, IMGBED_RECONCILE_AFTER=0)

    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == len(files),
        what="every upload to be stored",
    )
    assert sorted(f.size for f in emulator.files()) == sorted(len(data) for data in files)
    assert "beat: runs as a thread of this worker" in worker.output()
    assert "(thread)" in worker.output()  # the pool, as Celery's banner names it
    assert descendants(worker.pid) == []  # beat and the uploads: one process


def test_other_workers_run_no_beat(code, procfile_worker):
    worker = procfile_worker(IMGBED_WORKER_BEAT="false")
    # The worker says so before it says it is ready.
    assert "beat: runs as a thread of this worker" not in worker.output()
    assert "beat: Starting..." not in worker.output()
