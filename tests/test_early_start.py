"""A large file goes on to OneDrive while its request is still arriving, over real sockets:
a live server receiving a paced body, a real Celery worker, the emulator."""

import datetime
import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from channels.models import Channel
from channels.quickxorhash import quickxorhash_b64
from tests.files import png
from tests.fragments import assert_disjoint, fragments
from tests.rows import receiving_row
from tests.worker import wait_for
from uploads.early_start import expected_size
from uploads.models import StoredFile, UploadCode

CODE = "early-code"
FRAGMENT = 327680 * 4  # 1.25 MiB
BOUNDARY = "imgbed-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def file_part(data, name="big.png", field="file"):
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        f"Content-Type: image/png\r\n\r\n"
    ).encode() + data


def text_part(name, value):
    return f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode()


CLOSING = f"\r\n--{BOUNDARY}--\r\n".encode()


# --- the size guess --------------------------------------------------------------------------


def test_size_of_a_single_file_body_is_known_from_its_start():
    data = png(5000)
    body = file_part(data) + CLOSING
    assert expected_size(body[:1000], CONTENT_TYPE, len(body), "file") == len(data)


def test_size_guess_needs_the_file_first():
    body = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi'.encode() + CLOSING
    assert expected_size(body, CONTENT_TYPE, len(body) + 10_000, "file") is None


def test_size_guess_needs_a_file_name_and_a_boundary():
    body = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\n'.encode() + b"x" * 100
    assert expected_size(body, CONTENT_TYPE, len(body) + 50, "file") is None
    assert expected_size(file_part(b"x" * 100), "multipart/form-data", 5000, "file") is None


def test_size_guess_is_off_when_a_field_follows_the_file():
    """Only a guess: the worker learns the real size when the request ends."""
    data = png(5000)
    body = file_part(data) + text_part("note", "hello") + CLOSING
    assert expected_size(body[:1000], CONTENT_TYPE, len(body), "file") != len(data)


def test_size_guess_ignores_a_boundary_no_body_can_carry():
    assert (
        expected_size(b"--x\r\n", "multipart/form-data; boundary*=utf-8''%E2%82%AC", 10_000, "file") is None
    )


def test_no_early_start_when_tasks_run_eagerly(rf, settings):
    """An eager task would run inside the very request it waits for."""
    from uploads.early_start import EarlyStart
    from uploads.staging import StagingUploadHandler

    settings.CELERY_TASK_ALWAYS_EAGER = True
    body = file_part(b"x" * (30 * 1024 * 1024)) + CLOSING
    request = rf.post("/upload", data=body, content_type=CONTENT_TYPE)
    assert EarlyStart.for_request(request, StagingUploadHandler(request, 10**9), None) is None
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert EarlyStart.for_request(request, StagingUploadHandler(request, 10**9), None) is not None


# --- over real sockets -----------------------------------------------------------------------


@pytest.fixture
def site(settings, live_server, channel, onedrive_settings):
    settings.SITE_URL = live_server.url
    settings.IMGBED_FRAGMENT_SIZE = FRAGMENT
    channel.health = Channel.Health.CONNECTED
    channel.save()
    code = UploadCode(label="t")
    code.set_code(CODE)
    code.save()
    return live_server.url


def open_upload(site_url, length):
    """A connection whose POST /upload headers are sent: the body is the caller's to send."""
    parts = urlsplit(site_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.putrequest("POST", f"/upload?authCode={CODE}")
    conn.putheader("Content-Type", CONTENT_TYPE)
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    return conn


def send(site_url, body, *, piece=512 * 1024, pause=0.03, stop_after=None, before_hanging_up=None):
    """POST `body` in paced pieces like a client on a modest link; (status, json, monotonic time the
    last piece began to go). With `stop_after`, the client hangs up after that many bytes (and after
    `before_hanging_up()`)."""
    conn = open_upload(site_url, len(body))
    end = len(body) if stop_after is None else stop_after
    for start in range(0, end, piece):
        if start:
            time.sleep(pause)
        sent = time.monotonic()  # the last piece leaves now: the request cannot end before it
        conn.send(body[start : min(start + piece, end)])
    if stop_after is not None:
        before_hanging_up()
        conn.close()
        return None, None, sent
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload, sent


def fragment_puts(emulator):
    return [r for r in emulator.requests if r.kind == "upload_url" and r.method == "PUT"]


def staged_files():
    root = Path(settings.STORAGES["staging"]["OPTIONS"]["location"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def stored_row(payload):
    """The row of the link in a POST's answer, once a worker has stored it."""
    public_id = payload[0]["src"].removeprefix("/file/")
    return wait_for(
        lambda: StoredFile.objects.filter(public_id=public_id, status=StoredFile.Status.STORED).first(),
        timeout=120,
        what="the file to be stored",
    )


@pytest.fixture(autouse=True)
def empty_staging():
    for path in staged_files():
        path.unlink()


@pytest.mark.django_db(transaction=True)
def test_large_file_goes_to_onedrive_while_it_arrives(site, emulator, start_worker):
    start_worker(concurrency=1)
    data = png(24 * 1024 * 1024)
    status, payload, last_byte_sent = send(site, file_part(data) + CLOSING)
    assert status == 200, payload
    row = stored_row(payload)
    puts = fragment_puts(emulator)
    # Fragments went out while the body was still arriving...
    assert puts[0].monotonic < last_byte_sent
    # ...but not the last one, which makes OneDrive commit the file: only the complete file goes.
    assert puts[-1].monotonic > last_byte_sent
    assert len(emulator.files()) == 1
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data) == row.quickxorhash
    assert row.size == len(data) and not row.receiving
    assert staged_files() == []


@pytest.mark.django_db(transaction=True)
def test_wrong_size_guess_starts_the_upload_again(site, emulator, start_worker):
    """A field after the file makes the guessed size wrong: the session is cancelled and the
    real bytes are uploaded."""
    start_worker(concurrency=1)
    data = png(24 * 1024 * 1024)
    status, payload, _ = send(site, file_part(data) + text_part("note", "after the file") + CLOSING)
    assert status == 200, payload
    row = stored_row(payload)
    assert row.size == len(data)
    assert len(emulator.files()) == 1
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data)
    cancelled = [r for r in emulator.requests if r.kind == "upload_url" and r.method == "DELETE"]
    assert cancelled, "the session begun on the wrong size was not cancelled"


@pytest.mark.django_db(transaction=True)
def test_a_client_that_pauses_is_let_go_and_its_file_still_stored(site, emulator, start_worker):
    """The worker does not sit waiting on a slow request: it lets the file go, and the rest is
    sent, in the same session, once the file is all in."""
    start_worker(concurrency=1, IMGBED_RECEIVE_STALL=1)
    data = png(24 * 1024 * 1024)
    body = file_part(data) + CLOSING
    conn = open_upload(site, len(body))
    half = len(body) // 2
    conn.send(body[:half])
    wait_for(lambda: fragment_puts(emulator), timeout=30, what="the worker to start sending")
    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.PENDING, receiving=True).exists(),
        timeout=30,
        what="the worker to let the stalled upload go",
    )
    conn.send(body[half:])
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    assert response.status == 200, payload
    row = stored_row(payload)
    assert row.size == len(data)
    assert len(emulator.files()) == 1
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data)
    assert_disjoint(fragments(emulator), len(data))  # resumed: no byte sent twice


@pytest.mark.django_db(transaction=True)
def test_only_so_many_early_starts_at_once(site, emulator, start_worker, channel):
    """Each early start holds a worker while the person's upload lasts: over the limit, the
    file waits until it is all in."""
    receiving_row(
        channel,
        "holding.png",
        status=StoredFile.Status.UPLOADING,
        claimed_until=timezone.now() + datetime.timedelta(minutes=5),
    )
    start_worker(concurrency=1)
    data = png(24 * 1024 * 1024)
    status, payload, last_piece_sent = send(site, file_part(data) + CLOSING)
    assert status == 200, payload
    stored_row(payload)
    assert fragment_puts(emulator)[0].monotonic > last_piece_sent


@pytest.mark.django_db(transaction=True)
def test_client_hanging_up_leaves_nothing(site, emulator, start_worker):
    start_worker(concurrency=1)
    data = png(24 * 1024 * 1024)
    body = file_part(data) + CLOSING
    send(
        site,
        body,
        stop_after=len(body) // 2,
        before_hanging_up=lambda: wait_for(
            lambda: fragment_puts(emulator), timeout=30, what="the worker to start sending"
        ),
    )
    wait_for(lambda: not StoredFile.objects.exists(), timeout=30, what="the early row to go")
    # The worker gives up its session and keeps nothing.
    wait_for(
        lambda: any(r.kind == "upload_url" and r.method == "DELETE" for r in emulator.requests),
        timeout=30,
        what="the upload session to be cancelled",
    )
    assert emulator.files() == []
    wait_for(lambda: staged_files() == [], timeout=10, what="the partial file to be removed")


@pytest.mark.django_db
def test_a_file_still_arriving_is_not_served(client, channel):
    receiving_row(channel, "arriving.png")
    assert client.get("/file/arriving.png").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_file_found_too_large_at_the_end_leaves_nothing(site, emulator, start_worker, settings):
    """The declared length was within the limit's slack, so the upload started early; the file
    itself turns out too large: refused, and the early start is undone."""
    start_worker(concurrency=1)
    data = png(24 * 1024 * 1024)
    settings.IMGBED_MAX_UPLOAD_SIZE = len(data) - 1000
    status, payload, _ = send(site, file_part(data) + CLOSING)
    assert status == 413, payload
    assert "larger than this site's limit" in payload["error"]
    assert not StoredFile.objects.exists()
    wait_for(lambda: staged_files() == [], timeout=10, what="the partial file to be removed")
    time.sleep(1)  # a worker that had started gives up at its next look at the row
    assert emulator.files() == []


@pytest.mark.django_db(transaction=True)
def test_retry_after_holds_when_the_request_finishes_during_the_wait(site, emulator, start_worker):
    """Graph throttles the first fragment while the body is still arriving; the request then
    ends and sends the file to the workers again. Nothing calls the session before the wait
    Graph asked for is over."""
    wait = 4
    start_worker(concurrency=1, IMGBED_MAX_INLINE_WAIT=0)  # a wait is rescheduled, not slept
    throttle = emulator.faults.inject("upload_url", status=429, retry_after=wait, count=1)
    data = png(24 * 1024 * 1024)
    body = file_part(data) + CLOSING
    conn = open_upload(site, len(body))
    half = len(body) // 2
    conn.send(body[:half])
    wait_for(lambda: throttle.fired, timeout=30, what="the throttled first fragment")
    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.PENDING, receiving=True).exists(),
        timeout=30,
        what="the worker to release the file for the wait",
    )
    conn.send(body[half:])
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    assert response.status == 200, payload
    row = stored_row(payload)

    throttled = next(r for r in emulator.requests if r.injected)
    later = [r for r in emulator.requests if r.path == throttled.path and r.monotonic > throttled.monotonic]
    assert later, "the session was never resumed"
    assert later[0].monotonic - throttled.monotonic >= wait - 0.05, (
        f"the session was called {later[0].monotonic - throttled.monotonic:.2f} s after a "
        f"Retry-After of {wait} s"
    )
    assert row.size == len(data)
    assert emulator.files()[0].quickxorhash == quickxorhash_b64(data)
    assert_disjoint(fragments(emulator), len(data))


@pytest.mark.django_db
def test_a_released_file_is_not_taken_before_its_wait(channel):
    from uploads.tasks import claim, reconcile_uploads

    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.CONNECTED)
    row = receiving_row(channel, "waiting.png")
    StoredFile.objects.filter(pk=row.pk).update(
        receiving=False,
        not_before=timezone.now() + datetime.timedelta(minutes=2),
        updated_at=timezone.now() - datetime.timedelta(hours=1),
    )
    assert claim(row.pk) is None
    assert reconcile_uploads()["requeued"] == 0
    StoredFile.objects.filter(pk=row.pk).update(not_before=None)
    assert reconcile_uploads()["requeued"] == 1  # the same row, without a wait, is sent
    StoredFile.objects.filter(pk=row.pk).update(not_before=timezone.now() - datetime.timedelta(seconds=1))
    assert claim(row.pk) is not None
