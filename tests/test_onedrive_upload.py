"""channels.onedrive.upload against the Graph emulator over real HTTPS."""

import io
import random

import pytest
import requests

from channels.errors import PermanentError, ReauthorizationRequired, TransientError
from channels.onedrive import upload
from channels.quickxorhash import quickxorhash_b64

MiB = 1024 * 1024
UNIT = upload.FRAGMENT_UNIT
SMALL_FRAGMENT = 2 * UNIT  # fast, and still several fragments for a few MiB
SESSION_SIZE = 5 * MiB + 12345  # above the simple-upload limit, not a multiple of anything


def payload(size, seed=1):
    return random.Random(seed).randbytes(size)


class Tokens:
    """A TokenSource over the emulator: refresh() issues a new access token and counts."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.app = emulator.register_app()
        self.current = emulator.issue_access_token(self.app)
        self.refreshes = 0

    def get(self):
        return self.current

    def refresh(self):
        self.refreshes += 1
        self.current = self.emulator.issue_access_token(self.app)
        return self.current


class Sleeps:
    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


class Sessions:
    """An on_session callback that remembers every URL it was given."""

    def __init__(self, then=None):
        self.calls = []
        self.then = then

    def __call__(self, url):
        self.calls.append(url)
        if self.then and url:
            self.then()

    @property
    def saved(self):
        return self.calls[-1] if self.calls else None


def opener(data, fail_after=None):
    """open_stream over `data`; with fail_after, reading past that byte raises, like a worker killed midway."""

    def open_stream(offset):
        stream = io.BytesIO(data) if fail_after is None else Dying(data, fail_after)
        stream.seek(offset)
        return stream

    return open_stream


class Dying(io.BytesIO):
    def __init__(self, data, fail_after):
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, n=-1):
        if self.tell() >= self.fail_after:
            raise OSError("worker killed")
        return super().read(
            min(n, self.fail_after - self.tell()) if n >= 0 else self.fail_after - self.tell()
        )

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@pytest.fixture
def tokens(emulator):
    return Tokens(emulator)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def put(emulator, tokens, sleeps):
    """upload_file with the emulator, test tokens and a recording sleep; keyword overrides."""

    def put(data, remote_path="imgbed/2026/a b.png", **kwargs):
        kwargs.setdefault("retry", upload.RetryPolicy(sleep=sleeps, jitter=False))
        kwargs.setdefault("fragment_size", SMALL_FRAGMENT)
        kwargs.setdefault("open_stream", opener(data))
        return upload.upload_file(
            graph_base=emulator.base_url + "/v1.0",
            tokens=tokens,
            remote_path=remote_path,
            size=len(data),
            **kwargs,
        )

    return put


def fragments(emulator):
    return [r for r in emulator.requests if r.kind == "upload_url" and r.method == "PUT"]


def stored_ranges(emulator):
    """Byte ranges the emulator kept (answered 202/200/201)."""
    return [r.byte_range for r in fragments(emulator) if r.status in (200, 201, 202)]


def assert_stored(emulator, data, path="/imgbed/2026/a b.png"):
    (stored,) = emulator.files()
    assert stored.path == path
    assert stored.size == len(data)
    assert stored.quickxorhash == quickxorhash_b64(data)
    assert stored.read_bytes() == data
    assert emulator.upload_sessions() == []


def assert_contiguous(ranges, size):
    """Each byte range follows the previous one exactly: nothing received twice, nothing skipped."""
    expected = 0
    for first, last, total in ranges:
        assert total == size
        assert first == expected, f"range {first}-{last} sent, {expected} expected"
        expected = last + 1
    assert expected == size


# --- the happy paths ----------------------------------------------------


def test_small_file_is_one_simple_put(emulator, put):
    data = payload(100 * 1024)
    result = put(data)

    assert_stored(emulator, data)
    assert result.size == len(data)
    assert result.quickxorhash == quickxorhash_b64(data)
    assert result.item_id == emulator.files()[0].item_id
    assert result.etag and result.item["name"] == "a b.png"
    (request,) = emulator.requests
    assert request.method == "PUT"
    assert request.path.endswith("/root:/imgbed/2026/a%20b.png:/content")
    assert "@microsoft.graph.conflictBehavior=fail" in request.query
    assert request.authorization


def test_large_file_goes_in_fragments_of_ten_mib_without_the_token(emulator, put):
    data = payload(25 * MiB)
    sessions = Sessions()
    result = put(data, fragment_size=10 * MiB, on_session=sessions)

    assert_stored(emulator, data)
    assert result.quickxorhash == quickxorhash_b64(data)
    create = [r for r in emulator.requests if r.path.endswith(":/createUploadSession")]
    assert len(create) == 1 and create[0].authorization
    sent = fragments(emulator)
    assert [r.byte_range[1] - r.byte_range[0] + 1 for r in sent] == [10 * MiB, 10 * MiB, 5 * MiB]
    assert all((last - first + 1) % UNIT == 0 for first, last, _ in (r.byte_range for r in sent[:-1]))
    assert_contiguous([r.byte_range for r in sent], len(data))
    assert not any(r.authorization for r in emulator.requests if r.kind == "upload_url")
    assert sessions.calls[0].startswith(emulator.base_url + "/upload/")
    assert sessions.calls[1:] == [None]


@pytest.mark.parametrize("fragment_size", [UNIT * 2 + 1, 1000, 0, 192 * UNIT])
def test_fragment_size_must_be_a_multiple_of_320_kib_below_60_mib(emulator, put, fragment_size):
    with pytest.raises(ValueError, match="320 KiB"):
        put(payload(SESSION_SIZE), fragment_size=fragment_size)
    assert emulator.requests == []


def test_unknown_conflict_behaviour_is_refused_before_any_request(emulator, put):
    with pytest.raises(ValueError, match="conflict"):
        put(payload(10), conflict="overwrite")
    assert emulator.requests == []


def test_empty_file(emulator, put):
    put(b"")
    assert_stored(emulator, b"")


# --- resuming -----------------------------------------------------------


def test_a_killed_upload_resumes_without_resending_a_byte(emulator, put):
    data = payload(SESSION_SIZE)
    sessions = Sessions()
    with pytest.raises(OSError, match="worker killed"):
        put(data, open_stream=opener(data, fail_after=SMALL_FRAGMENT), on_session=sessions)
    assert emulator.files() == []
    assert sessions.saved is not None  # the session stays for the next worker
    (pending,) = emulator.upload_sessions()
    assert pending.received == SMALL_FRAGMENT

    result = put(data, session_url=sessions.saved, on_session=sessions)

    assert_stored(emulator, data)
    assert result.quickxorhash == quickxorhash_b64(data)  # the bytes sent before the resume are hashed too
    assert_contiguous([r.byte_range for r in fragments(emulator)], len(data))
    status = [r for r in emulator.requests if r.kind == "upload_url" and r.method == "GET"]
    assert len(status) == 1 and not status[0].authorization
    assert sessions.calls[-1] is None
    assert len([r for r in emulator.requests if r.path.endswith(":/createUploadSession")]) == 1


def test_an_expired_session_is_replaced_by_a_new_one(emulator, put):
    data = payload(SESSION_SIZE)
    sessions = Sessions()
    with pytest.raises(OSError):
        put(data, open_stream=opener(data, fail_after=SMALL_FRAGMENT), on_session=sessions)
    stale = sessions.saved
    emulator.expire_upload_sessions()
    emulator.clear_log()

    put(data, session_url=stale, on_session=sessions)

    assert_stored(emulator, data)
    fresh = sessions.calls[-2]
    assert fresh not in (None, stale)
    assert sessions.calls[-1] is None
    assert_contiguous([r.byte_range for r in fragments(emulator)], len(data))
    assert all(r.path == fresh.replace(emulator.base_url, "") for r in fragments(emulator))


def test_an_overlapping_fragment_rereads_the_session_status(emulator, put):
    data = payload(SESSION_SIZE)
    emulator.faults.inject("upload_url", status=416, count=1)
    put(data)
    assert_stored(emulator, data)
    log = [(r.method, r.status) for r in emulator.requests if r.kind == "upload_url"]
    assert log[:3] == [("PUT", 416), ("GET", 200), ("PUT", 202)]
    assert_contiguous(stored_ranges(emulator), len(data))


# --- throttling, outages, tokens ----------------------------------------


def test_retry_after_is_honoured_exactly(emulator, put, sleeps):
    data = payload(SESSION_SIZE)
    emulator.faults.inject("upload_url", "^/upload/", status=429, retry_after=2, count=1)
    put(data)
    assert sleeps.calls == [2]
    assert_stored(emulator, data)
    first, second = fragments(emulator)[:2]
    assert first.status == 429 and first.retry_after == "2"
    assert second.byte_range == first.byte_range


def test_retry_after_is_really_waited_for(emulator, put):
    data = payload(100)
    emulator.faults.inject("PUT", status=503, retry_after=0.3, count=1)
    put(data, retry=upload.RetryPolicy(jitter=False))
    first, second = emulator.requests
    assert second.monotonic - first.monotonic >= 0.3
    assert_stored(emulator, data)


def test_a_503_without_retry_after_backs_off_exponentially(emulator, put, sleeps):
    data = payload(SESSION_SIZE)
    emulator.faults.inject("upload_url", status=503, retry_after=None, count=2)
    put(data)
    assert sleeps.calls == [1.0, 2.0]
    assert_stored(emulator, data)


def test_backoff_with_jitter_stays_between_half_and_the_full_wait():
    policy = upload.RetryPolicy()
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (10, 30.0)]:
        assert all(full / 2 <= policy.backoff(attempt) <= full for _ in range(50))


def test_a_dropped_connection_is_retried(emulator, put, sleeps):
    data = payload(SESSION_SIZE)
    emulator.faults.inject("upload_url", status=0, count=1)
    put(data)
    assert sleeps.calls == [1.0]
    assert_stored(emulator, data)
    assert_contiguous(stored_ranges(emulator), len(data))


def test_throttling_beyond_max_wait_hands_back_a_transient_error(emulator, put, sleeps):
    data = payload(SESSION_SIZE)
    sessions = Sessions()
    emulator.faults.inject("upload_url", status=429, retry_after=2, count=10)
    with pytest.raises(TransientError) as caught:
        put(data, on_session=sessions, retry=upload.RetryPolicy(sleep=sleeps, max_wait=3))
    assert caught.value.retry_after == 2
    assert sleeps.calls == [2]
    # The session survives for a later retry to resume.
    assert sessions.saved is not None
    assert len(emulator.upload_sessions()) == 1


def test_a_retry_after_longer_than_max_wait_is_not_slept(emulator, put, sleeps):
    emulator.faults.inject("PUT", status=429, retry_after=120, count=1)
    with pytest.raises(TransientError) as caught:
        put(payload(100))
    assert caught.value.retry_after == 120
    assert sleeps.calls == []


def test_attempts_run_out(emulator, put, sleeps):
    emulator.faults.inject("PUT", status=500, retry_after=None, count=10)
    with pytest.raises(TransientError) as caught:
        put(payload(100), retry=upload.RetryPolicy(sleep=sleeps, jitter=False, max_attempts=3))
    assert sleeps.calls == [1.0, 2.0]
    assert caught.value.retry_after == 4.0
    assert len(emulator.requests) == 3


def test_an_expired_access_token_is_refreshed_once(emulator, put, tokens):
    data = payload(SESSION_SIZE)
    emulator.expire_access_tokens()
    put(data)
    assert tokens.refreshes == 1
    assert_stored(emulator, data)
    create = [r.status for r in emulator.requests if r.path.endswith(":/createUploadSession")]
    assert create == [401, 200]


def test_a_token_expiring_mid_upload_does_not_matter_to_the_upload_url(emulator, put, tokens):
    data = payload(SESSION_SIZE)
    put(data, on_session=Sessions(then=emulator.expire_access_tokens))
    assert tokens.refreshes == 0
    assert_stored(emulator, data)


def test_a_small_upload_with_an_expired_token(emulator, put, tokens):
    data = payload(1000)
    emulator.expire_access_tokens()
    put(data)
    assert tokens.refreshes == 1
    assert_stored(emulator, data)


def test_a_refused_fresh_token_needs_reauthorization(emulator, put, tokens):
    emulator.faults.inject("graph", status=401, count=2)
    with pytest.raises(ReauthorizationRequired, match="Get Token"):
        put(payload(1000))
    assert tokens.refreshes == 1
    assert emulator.files() == []


# --- permanent failures ---------------------------------------------------


def test_a_full_drive_cancels_the_session(emulator, put):
    sessions = Sessions(then=emulator.set_drive_full)
    with pytest.raises(PermanentError, match="full") as caught:
        put(payload(SESSION_SIZE), on_session=sessions)
    assert caught.value.code == "quotaLimitReached"
    assert emulator.upload_sessions() == []
    assert [r.status for r in emulator.requests if r.kind == "upload_url" and r.method == "DELETE"] == [204]
    assert sessions.calls[-1] is None
    assert emulator.files() == []


def test_a_full_drive_refuses_the_session(emulator, put):
    emulator.set_drive_full()
    with pytest.raises(PermanentError, match="full"):
        put(payload(SESSION_SIZE))
    with pytest.raises(PermanentError, match="full"):
        put(payload(1000))
    assert emulator.files() == []


@pytest.mark.parametrize("size", [1000, SESSION_SIZE])
def test_an_existing_name_fails(emulator, put, size):
    put(payload(10), remote_path="imgbed/taken.png")
    sessions = Sessions()
    with pytest.raises(PermanentError, match="imgbed/taken.png") as caught:
        put(payload(size), remote_path="imgbed/taken.png", on_session=sessions)
    assert caught.value.code == "nameAlreadyExists"
    assert [f.size for f in emulator.files()] == [10]
    assert emulator.upload_sessions() == []
    assert sessions.saved is None


def test_replace_overwrites(emulator, put):
    put(payload(10), remote_path="imgbed/x.png")
    data = payload(2000, seed=2)
    put(data, remote_path="imgbed/x.png", conflict="replace")
    assert_stored(emulator, data, path="/imgbed/x.png")


def test_a_hash_mismatch_is_a_permanent_error(emulator, put):
    wrong = {"id": "X!1", "size": 100, "eTag": '"x"', "file": {"hashes": {"quickXorHash": "AAAA"}}}
    emulator.faults.inject("PUT", status=201, body=wrong, count=1)
    with pytest.raises(PermanentError, match="quickXorHash AAAA") as caught:
        put(payload(100))
    assert caught.value.code == "hashMismatch"


def test_other_client_errors_name_graph_code(emulator, put):
    emulator.faults.inject("PUT", status=403, count=1)
    with pytest.raises(PermanentError, match="accessDenied"):
        put(payload(100))


# --- delete and download ------------------------------------------------


def test_delete_is_idempotent(emulator, put, tokens):
    result = put(payload(100))
    base = emulator.base_url + "/v1.0"
    upload.delete_item(base, tokens, result.item_id)
    assert emulator.files() == []
    upload.delete_item(base, tokens, result.item_id)
    assert [r.status for r in emulator.requests if r.method == "DELETE"] == [204, 404]


def test_delete_retries_throttling(emulator, put, tokens, sleeps):
    result = put(payload(100))
    emulator.faults.inject("DELETE", status=429, retry_after=3, count=1)
    upload.delete_item(
        emulator.base_url + "/v1.0", tokens, result.item_id, retry=upload.RetryPolicy(sleep=sleeps)
    )
    assert sleeps.calls == [3]
    assert emulator.files() == []


def test_download_url_serves_the_bytes_and_ranges(emulator, put, tokens):
    data = payload(300 * 1024)
    result = put(data)
    emulator.expire_access_tokens()
    url = upload.download_url(emulator.base_url + "/v1.0", tokens, result.item_id)
    assert tokens.refreshes == 1
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content == data
    part = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert part.status_code == 206 and part.content == data[1000:2000]


def test_download_url_of_a_missing_item(emulator, tokens):
    with pytest.raises(PermanentError, match="itemNotFound"):
        upload.download_url(emulator.base_url + "/v1.0", tokens, "NOPE!1")


def test_get_json_reads_an_item_by_path(emulator, put, tokens):
    result = put(payload(100))
    item = upload.get_json(emulator.base_url + "/v1.0", tokens, "/me/drive/root:/imgbed/2026/a%20b.png:")
    assert item["id"] == result.item_id
