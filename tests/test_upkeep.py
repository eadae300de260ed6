"""Keeping channels alive: beat schedules, concurrent token refresh, reconcile, and re-authorisation."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from channels.models import Channel, QuotaSample
from channels.tasks import refresh_access_token
from tests.files import png
from tests.oauth import callback_path, consent, start_get_token
from tests.rows import receiving_row
from tests.worker import wait_for
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connected(channel, onedrive_settings):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    return channel


def test_beat_pulls_quota_on_schedule(connected, emulator, start_worker, start_beat):
    start_worker(concurrency=1)
    start_beat(IMGBED_QUOTA_INTERVAL=1)
    wait_for(lambda: Channel.objects.get(pk=connected.pk).quota_used == 0, what="a first quota reading")
    emulator.set_quota(used=3 * 1024**3)
    row = wait_for(
        lambda: Channel.objects.filter(pk=connected.pk, quota_used=3 * 1024**3).first(),
        what="the new quota figure",
    )
    assert row.quota_total == 5 * 1024**3
    assert row.quota_read_at is not None
    assert QuotaSample.objects.filter(channel=connected).count() >= 2


def test_concurrent_refresh_keeps_the_channel_connected_ten_times(connected, emulator, start_worker):
    """Four worker processes refresh at once against strict rotation: exactly one redeems each round."""
    from channels.onedrive.connection import access_token, fingerprint

    start_worker(concurrency=4)
    for round_ in range(10):
        stale = access_token(connected.pk)
        before = emulator.token_redemptions
        results = [
            refresh_access_token.delay(connected.pk, stale_fingerprint=fingerprint(stale)) for _ in range(4)
        ]
        for result in results:
            assert result.get(timeout=60) == "ok", f"round {round_}"
        connected.refresh_from_db()
        assert connected.health == Channel.Health.CONNECTED, connected.last_error
        assert emulator.token_redemptions == before + 1, f"round {round_}: more than one redemption"
        assert emulator.valid_refresh_tokens == 1
        assert connected.onedrive_settings.access_token != stale


def test_a_refused_token_goes_to_the_task_as_its_fingerprint_only(connected, emulator):
    """The task's arguments are kept in the broker and the result backend: no token in them."""
    from channels.onedrive.connection import access_token, fingerprint

    refused = access_token(connected.pk)
    before = emulator.token_redemptions
    message = refresh_access_token.s(connected.pk, stale_fingerprint=fingerprint(refused))
    assert refused not in json.dumps([message.args, message.kwargs])
    message.apply()
    assert emulator.token_redemptions == before + 1  # the stored token was the refused one: replaced
    replaced = access_token(connected.pk)
    assert replaced != refused
    # Sent again with the old fingerprint: another process replaced that token already.
    message.apply()
    assert emulator.token_redemptions == before + 1
    assert access_token(connected.pk) == replaced


def flush_broker():
    """Lose every queued message, as FLUSHDB on Redis (or an emptied queue folder) would."""
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis://"):
        import redis

        redis.Redis.from_url(url).flushdb()
    else:
        for path in (settings.DATA_DIR / "broker" / "queue").iterdir():
            path.unlink()


def test_reconcile_delivers_uploads_after_the_broker_lost_them(
    client, connected, emulator, start_worker, start_beat
):
    from uploads.models import UploadCode

    code = UploadCode(label="t")
    code.set_code("c")
    code.save()
    files = [png(10_000 + i) for i in range(6)]
    for i, data in enumerate(files):
        response = client.post("/upload?authCode=c", {"file": SimpleUploadedFile(f"f{i}.png", data)})
        assert response.status_code == 200
    flush_broker()
    start_worker(concurrency=2, IMGBED_RECONCILE_AFTER=0)
    start_beat(IMGBED_RECONCILE_INTERVAL=1, IMGBED_RECONCILE_AFTER=0)
    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == len(files),
        what="every upload to be stored",
    )
    assert len(emulator.files()) == len(files)
    puts = [
        r for r in emulator.requests if r.method == "PUT" and r.kind == "graph" and r.status in (200, 201)
    ]
    assert len(puts) == len(files), "a file was uploaded twice"


def broker_away(monkeypatch, task):
    from kombu.exceptions import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(task, "delay", refuse)


def test_upload_accepted_while_the_broker_is_away_is_sent_by_reconcile(
    client, connected, emulator, start_worker, monkeypatch, settings
):
    from uploads.models import UploadCode
    from uploads.tasks import upload_to_channel

    code = UploadCode(label="t")
    code.set_code("c")
    code.save()
    data = png(20_000)
    with monkeypatch.context() as patch:
        broker_away(patch, upload_to_channel)
        response = client.post("/upload?authCode=c", {"file": SimpleUploadedFile("a.png", data)})
    # The bytes and the row are safe: the person gets the link, not an error to retry.
    assert response.status_code == 200, response.content
    src = json.loads(response.content)[0]["src"]
    assert b"".join(client.get(src).streaming_content) == data
    start_worker(concurrency=1)
    settings.IMGBED_RECONCILE_AFTER = 0
    call_command("reconcile_uploads")
    wait_for(lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).exists(), what="the upload")
    assert emulator.files()[0].read_bytes() == data


def test_delete_whose_message_was_lost_is_sent_by_reconcile(
    client, connected, emulator, start_worker, monkeypatch, settings
):
    from uploads import lifecycle
    from uploads.models import UploadCode
    from uploads.tasks import delete_remote

    code = UploadCode(label="t")
    code.set_code("c")
    code.save()
    response = client.post("/upload?authCode=c", {"file": SimpleUploadedFile("a.png", png(20_000))})
    assert response.status_code == 200
    start_worker(concurrency=1)
    row = wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).first(), what="the upload"
    )
    with monkeypatch.context() as patch:
        broker_away(patch, delete_remote)
        lifecycle.delete(row)
    assert client.get(f"/file/{row.public_id}").status_code == 404
    assert len(emulator.files()) == 1  # the message that would remove it never left
    settings.IMGBED_RECONCILE_AFTER = 0
    call_command("reconcile_uploads")
    wait_for(lambda: emulator.files() == [], what="the remote item to be deleted")
    wait_for(lambda: StoredFile.objects.filter(pk=row.pk, remote_id="").exists(), what="the row to forget it")


def test_revoked_grant_needs_reauthorisation_then_get_token_recovers(
    client, admin_client, connected, emulator, entra_app, start_worker, start_beat
):
    from uploads.models import UploadCode

    code = UploadCode(label="t")
    code.set_code("c")
    code.save()
    emulator.revoke_grants()
    start_worker(concurrency=1)
    start_beat(IMGBED_TOKEN_REFRESH_INTERVAL=2)
    row = wait_for(
        lambda: Channel.objects.filter(pk=connected.pk, health=Channel.Health.NEEDS_REAUTH).first(),
        what="needs re-authorisation",
    )
    assert "Get Token" in row.last_error
    listing = admin_client.get("/admin/channels/onedrivechannel/").content.decode()
    assert "Needs re-authorisation" in listing and "#get-token" in listing
    failed_before = emulator.failed_redemptions

    # No channel takes uploads now, and nobody keeps hammering the dead grant.
    response = client.post("/upload?authCode=c", {"file": SimpleUploadedFile("a.png", png(100))})
    assert response.status_code == 503
    assert "No storage channel" in json.loads(response.content)["error"]
    call_command("refresh_tokens")
    call_command("pull_quotas")
    assert emulator.failed_redemptions == failed_before

    # A new Get Token, saved to the channel, brings it back.
    start = start_get_token(admin_client, entra_app, channel=connected, client_secret="")
    page = admin_client.get(callback_path(consent(emulator, start["Location"])))
    admin_client.post("/api/oauth/onedrive/save", {"key": page.context["save_key"]})
    connected.refresh_from_db()
    assert connected.health == Channel.Health.CONNECTED
    response = client.post("/upload?authCode=c", {"file": SimpleUploadedFile("a.png", png(100))})
    assert response.status_code == 200


def test_throttled_graph_marks_the_channel_degraded_then_recovers(connected, emulator):
    from channels.onedrive.connection import pull_quota

    emulator.faults.inject("graph", path_regex=r"/me/drive$", status=503, retry_after=None, count=1)
    with pytest.raises(Exception, match="503"):
        pull_quota(connected.pk)
    connected.refresh_from_db()
    assert connected.health == Channel.Health.DEGRADED
    pull_quota(connected.pk)
    connected.refresh_from_db()
    assert connected.health == Channel.Health.CONNECTED


def test_queued_bytes_count_against_the_space_left(client, connected, settings):
    from uploads.models import UploadCode

    settings.IMGBED_MAX_UPLOAD_SIZE = 10 * 1024**2
    code = UploadCode(label="t")
    code.set_code("c")
    code.save()
    connected.quota_total, connected.quota_used, connected.quota_remaining = 1_000_000, 850_000, 150_000
    connected.quota_state = "normal"
    connected.save()
    first = client.post("/upload?authCode=c", {"file": SimpleUploadedFile("a.png", png(100_000))})
    assert first.status_code == 200
    # Graph still says 150 kB left, but 100 kB are queued here: the next 100 kB do not fit.
    second = client.post("/upload?authCode=c", {"file": SimpleUploadedFile("b.png", png(100_000))})
    assert second.status_code == 507
    assert "full" in json.loads(second.content)["error"]


def test_clean_staging_removes_rows_whose_request_died_while_receiving(channel, settings):
    import datetime
    import os
    import time as clock

    from django.utils import timezone

    from uploads import staging
    from uploads.tasks import clean_staging

    def two_days_receiving(name, days_quiet):
        store = staging.storage()
        os.makedirs(store.location, exist_ok=True)
        Path(store.path(name)).write_bytes(b"partial")
        quiet_since = clock.time() - days_quiet * 86400
        os.utime(store.path(name), (quiet_since, quiet_since))
        row = receiving_row(channel, name, staged_name=name)
        StoredFile.objects.filter(pk=row.pk).update(created_at=timezone.now() - datetime.timedelta(days=2))
        return row

    dead = two_days_receiving("dead.png", days_quiet=2)
    slow = two_days_receiving("slow.png", days_quiet=0)  # a two-day upload still bringing bytes
    clean_staging()
    assert not StoredFile.objects.filter(pk=dead.pk).exists()
    assert not staging.exists("dead.png")
    assert StoredFile.objects.filter(pk=slow.pk, receiving=True).exists()
    assert staging.exists("slow.png")
