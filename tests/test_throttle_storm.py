"""A storm: 429s with and without Retry-After, then a burst of 503s, on simple PUTs, new upload
sessions and fragments, while small and large files are queued. Every file ends stored once with
its own bytes, no fragment is sent twice, and nothing is held: a storm is transient."""

from collections import defaultdict

import pytest

from channels.quickxorhash import quickxorhash_b64
from tests.files import png
from tests.fragments import assert_disjoint
from tests.test_pipeline import (
    FRAGMENT,
    body,
    setup,  # noqa: F401 (a fixture)
    stored,
    upload,
)
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_storm_of_429s_and_503s_ends_with_every_file_stored_once(
    client,
    setup,  # noqa: F811
    emulator,
    start_worker,
):
    small = [png(30_000 + i) for i in range(8)]
    large = [png(5 * 1024 * 1024 + i) for i in range(2)]
    files = {upload(client, data, name=f"storm-{n}.png"): data for n, data in enumerate(small + large)}
    storm = [
        emulator.faults.inject("PUT", path_regex=r"/content", status=429, retry_after=1, count=4),
        emulator.faults.inject("PUT", path_regex=r"/content", status=429, retry_after=None, count=3),
        emulator.faults.inject(
            "POST", path_regex=r"createUploadSession", status=429, retry_after=None, count=2
        ),
        emulator.faults.inject("upload_url", status=429, retry_after=1, count=2),
        emulator.faults.inject("graph", status=503, retry_after=None, count=4),
        emulator.faults.inject("upload_url", status=503, retry_after=None, count=3),
    ]
    start_worker(concurrency=2, IMGBED_FRAGMENT_SIZE=FRAGMENT)
    for src in files:
        stored(src, timeout=240)

    assert [rule.remaining for rule in storm] == [0] * len(storm), "the storm did not all fire"
    assert len(emulator.files()) == len(files)
    by_hash = {f.quickxorhash for f in emulator.files()}
    assert by_hash == {quickxorhash_b64(data) for data in files.values()}
    # Each session's accepted fragments cover its file once: nothing sent twice.
    sessions = defaultdict(list)
    for r in emulator.requests:
        if r.kind == "upload_url" and r.method == "PUT" and r.status in (200, 201, 202):
            sessions[r.path].append(r.byte_range[:2])
    finished = [
        ranges for ranges in sessions.values() if max(end for _, end in ranges) + 1 in map(len, large)
    ]
    assert len(finished) == len(large)
    for ranges in finished:
        assert_disjoint(ranges, max(end for _, end in ranges) + 1)
    for src, data in files.items():
        assert body(client.get(src)) == data
    assert not StoredFile.objects.exclude(status=StoredFile.Status.STORED).exists()
    assert set(StoredFile.objects.values_list("failure_reason", flat=True)) == {""}
