"""Which channel a new upload goes to: priority, weight, space, fill threshold, queued bytes,
and explicit choices that fail in words rather than switch silently."""

import collections

import pytest

from channels.models import Channel
from tests.rows import receiving_row
from uploads.channel_choice import NoChannel, choose
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

MB = 1024**2


def make(name, kind="local", **fields):
    fields.setdefault("health", Channel.Health.CONNECTED)
    return Channel.objects.create(name=name, kind=kind, **fields)


def counts(n=1000, **kwargs):
    return collections.Counter(choose(**kwargs).name for _ in range(n))


def test_lowest_priority_number_first():
    make("fallback", priority=20)
    make("first", priority=5)
    assert counts(50) == {"first": 50}


def test_random_by_weight_among_equals():
    make("one", weight=1)
    make("three", weight=3)
    seen = counts(1000)
    # Binomial(1000, 0.25): sd 13.7, so 250 ± 70 is over five sd.
    assert 180 <= seen["one"] <= 320, seen
    assert seen["one"] + seen["three"] == 1000


def test_weight_zero_takes_nothing_while_another_has_weight():
    make("off", weight=0)
    make("on", weight=1)
    assert counts(100) == {"on": 100}


def test_a_channel_without_room_is_skipped_for_the_next_priority():
    make("small", priority=1, capacity=10 * MB, stored_bytes=9 * MB)
    make("big", priority=2)
    assert choose(size=2 * MB).name == "big"
    assert choose(size=100).name == "small"


def test_above_the_fill_threshold_is_skipped():
    make("nearly full", priority=1, capacity=100 * MB, stored_bytes=96 * MB, fill_threshold=95)
    make("other", priority=2)
    assert choose(size=1).name == "other"
    Channel.objects.filter(name="nearly full").update(fill_threshold=99)
    assert choose(size=1).name == "nearly full"


def test_provider_quota_counts_before_the_capacity():
    make("drive", priority=1, kind="onedrive", quota_total=100 * MB, quota_used=99 * MB, quota_remaining=MB)
    make("other", priority=2)
    assert choose(size=2 * MB).name == "other"


def test_queued_bytes_count_as_used():
    small = make("small", priority=1, capacity=10 * MB)
    make("big", priority=2)
    row = receiving_row(small, "queued.png")
    StoredFile.objects.filter(pk=row.pk).update(
        size=9 * MB, receiving=False, status=StoredFile.Status.PENDING
    )
    assert choose(size=2 * MB).name == "big"


def test_unusable_and_disabled_channels_are_skipped():
    make("revoked", priority=1, kind="onedrive", health=Channel.Health.NEEDS_REAUTH)
    make("disabled", priority=1, enabled=False)
    make("ok", priority=9)
    assert counts(20) == {"ok": 20}


def test_explicit_choices_fail_in_words():
    make("small", capacity=MB, stored_bytes=MB)
    make("revoked", kind="onedrive", health=Channel.Health.NEEDS_REAUTH)
    with pytest.raises(NoChannel, match="is full") as full:
        choose(name="small", size=10)
    assert full.value.status == 507
    with pytest.raises(NoChannel, match="needs re-authorisation"):
        choose(name="revoked")
    with pytest.raises(NoChannel, match="No enabled channel is named 'nope'") as missing:
        choose(name="nope")
    assert missing.value.status == 400
    with pytest.raises(NoChannel, match="Unknown uploadChannel 'telegram'"):
        choose(kind="telegram")


def test_imgbed_kind_names_map_to_ours():
    make("bucket", kind="s3")
    make("disk", kind="local")
    assert choose(kind="cfr2").name == "bucket"
    assert choose(kind="s3").name == "bucket"
    assert choose(kind="local").name == "disk"


def test_excluded_channels_are_passed_over():
    first = make("first", priority=1)
    make("second", priority=2)
    assert choose(exclude=[first.pk]).name == "second"
    with pytest.raises(NoChannel, match="No storage channel is available"):
        choose(exclude=list(Channel.objects.values_list("pk", flat=True)))
