"""PostgreSQL restarted while uploads come in, under the Procfile's web process, a worker and beat:
requests in flight get a clear 503 (never a bare 500), tasks retry, and afterwards every
accepted file is stored and served, with no row left stuck."""

import json
import subprocess
import sys
import threading

import psycopg

from tests.files import png
from tests.stack import private_postgres, private_redis, start_web  # noqa: F401 (fixtures)
from tests.worker import ROOT, wait_for, worker_env

CODE = "pg-restart-code"
PREPARE = """
import sys, django
django.setup()
from django.core.management import call_command
from channels.local.models import LocalChannel, LocalSettings
from uploads.models import UploadCode
call_command("migrate", verbosity=0, interactive=False)
code = UploadCode(label="restart test")
code.set_code(sys.argv[1])
code.save()
channel = LocalChannel.objects.create(name="Disk", health="connected")
LocalSettings.objects.create(channel=channel, path=sys.argv[2])
"""


def rows(url):
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as db:
        return db.execute("SELECT public_id, status, sha256 FROM uploads_storedfile").fetchall()


def test_postgres_restarted_during_uploads(
    tmp_path,
    emulator,
    private_postgres,  # noqa: F811
    private_redis,  # noqa: F811
    start_web,  # noqa: F811
    start_worker,
    start_beat,
):
    site = {
        "DATABASE_URL": private_postgres.url,
        "CELERY_BROKER_URL": private_redis.url,
        "IMGBED_DATA_DIR": str(tmp_path / "data"),
        "IMGBED_STAGING_OPTIONS": json.dumps({"location": str(tmp_path / "staging")}),
        "IMGBED_UPLOAD_LEASE": 4,
        "IMGBED_RECONCILE_AFTER": 3,
    }
    env = worker_env(emulator, **site)
    prepared = subprocess.run(
        [sys.executable, "-c", PREPARE, CODE, str(tmp_path / "disk")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert prepared.returncode == 0, prepared.stderr
    web = start_web(env)
    start_worker(concurrency=2, **site)
    beat = start_beat(IMGBED_RECONCILE_INTERVAL=2, IMGBED_BEAT_LEASE=6, **site)

    answers, stop = [], threading.Event()

    def keep_uploading():
        while not stop.is_set():
            data = png(8_000 + 31 * len(answers))
            try:
                response = web.http.post(
                    f"{web.url}/upload?authCode={CODE}",
                    files={"file": ("pic.png", data, "image/png")},
                    timeout=30,
                )
            except Exception as exc:  # noqa: BLE001 (recorded and asserted on below)
                answers.append((None, repr(exc), {}, data))
                continue
            answers.append((response.status_code, response.text, response.headers, data))

    uploader = threading.Thread(target=keep_uploading)
    uploader.start()
    try:
        wait_for(lambda: sum(1 for a in answers if a[0] == 200) >= 5, what="uploads before the restart")
        private_postgres.stop("fast")
        stopped = len(answers)
        wait_for(lambda: len(answers) >= stopped + 3, timeout=30, what="requests while PostgreSQL is down")
        wait_for(
            lambda: "cannot check the site's schedule lease" in beat.log(),
            timeout=30,
            what="beat to find the database down",
        )
        private_postgres.start()
        sent_before = beat.log().count("Sending due task reconcile-uploads")
        restarted = len(answers)
        wait_for(
            lambda: sum(1 for a in answers[restarted:] if a[0] == 200) >= 5,
            timeout=60,
            what="uploads after it",
        )
    finally:
        stop.set()
        uploader.join(60)

    # Beat lived through it (its lease unchecked while the database was down) and sends again.
    wait_for(
        lambda: beat.log().count("Sending due task reconcile-uploads") > sent_before + 1,
        timeout=60,
        what="beat to send reconcile-uploads after the restart",
    )
    assert beat.process.poll() is None

    statuses = [a[0] for a in answers]
    assert set(statuses) <= {200, 503}, statuses
    refused = [a for a in answers if a[0] == 503]
    assert refused, "no request met the restart"
    for _, text, headers, _ in refused:
        assert "database is unavailable" in json.loads(text)["error"] and headers["Retry-After"] == "5"
    accepted = {json.loads(text)[0]["src"]: data for status, text, _, data in answers if status == 200}

    wait_for(
        lambda: all(status == "stored" for _, status, _ in rows(private_postgres.url)),
        timeout=90,
        what="every row to be stored",
    )
    found = {public_id for public_id, _, _ in rows(private_postgres.url)}
    assert {src.removeprefix("/file/") for src in accepted} <= found
    # A request refused after its row committed is the only way to a row nobody was told of.
    assert len(found) - len(accepted) <= len(refused)
    for src, data in accepted.items():
        served = web.http.get(web.url + src, timeout=30)
        assert served.status_code == 200 and served.content == data, src
