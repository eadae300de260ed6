"""Redis killed, restarted empty and flushed while uploads are queued and running, under the
Procfile's web process, a worker and beat: every file arrives, none twice."""

import json
import time

import pytest

from channels.models import Channel
from tests.files import png
from tests.manage_support import CODE, upload_code
from tests.stack import private_redis, start_web  # noqa: F401 (fixtures)
from tests.worker import wait_for, worker_env
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)


def test_redis_restarted_and_flushed_every_file_arrives_once(
    channel,
    emulator,
    private_redis,  # noqa: F811
    start_web,  # noqa: F811
    start_worker,
    start_beat,
):
    upload_code()
    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.CONNECTED)
    broker = {"CELERY_BROKER_URL": private_redis.url, "IMGBED_RECONCILE_AFTER": 3, "IMGBED_UPLOAD_LEASE": 4}
    web = start_web(worker_env(emulator, **broker))
    start_worker(concurrency=2, **broker)
    start_beat(IMGBED_RECONCILE_INTERVAL=2, **broker)
    emulator.faults.latency = 0.2  # uploads take a while: some run, some wait in the queue

    sent = {}

    def upload(count, **timeouts):
        for _ in range(count):
            data = png(10_000 + 37 * len(sent))
            started = time.monotonic()
            response = web.http.post(
                f"{web.url}/upload?authCode={CODE}",
                files={"file": ("pic.png", data, "image/png")},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            sent[json.loads(response.text)[0]["src"]] = (data, time.monotonic() - started)

    upload(6)
    wait_for(lambda: StoredFile.objects.filter(status=StoredFile.Status.UPLOADING).exists(), what="an upload")
    private_redis.kill()  # queued messages, and the running ones' unacknowledged copies, are gone
    upload(4)  # accepted while the broker is down: the rows wait for reconcile
    private_redis.start()
    upload(4)
    private_redis.client().flushall()
    upload(4)

    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == len(sent),
        timeout=120,
        what="every file to be stored",
    )
    assert not StoredFile.objects.exclude(status=StoredFile.Status.STORED).exists()
    # Once each: one successful PUT per file, one file at Microsoft per upload.
    stored_puts = [
        r for r in emulator.requests if r.kind == "graph" and r.method == "PUT" and r.status in (200, 201)
    ]
    assert len(stored_puts) == len(sent) == len({r.path for r in stored_puts})
    assert len(emulator.files()) == len(sent)
    for src, (data, took) in sent.items():
        assert took < 10, f"{src}: the upload request took {took:.1f} s"
        served = web.http.get(web.url + src, timeout=30)
        assert served.status_code == 200 and served.content == data
