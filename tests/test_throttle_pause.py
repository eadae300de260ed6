"""A 429 for one file pauses the channel's other files too (Graph throttles per app and user),
with and without Retry-After; every file is then stored once."""

import pytest

from channels.models import Channel
from tests.files import png
from tests.test_pipeline import (
    body,
    setup,  # noqa: F401 (a fixture)
    stored,
    upload,
)
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)


def content_puts(emulator):
    return [r for r in emulator.requests if r.kind == "graph" and r.method == "PUT"]


@pytest.mark.parametrize("retry_after", [3, None], ids=["retry-after", "no-retry-after"])
def test_one_file_throttled_holds_the_channel_then_all_are_stored_once(
    client,
    setup,  # noqa: F811
    emulator,
    start_worker,
    retry_after,
):
    emulator.faults.inject("PUT", path_regex=r"/content", status=429, retry_after=retry_after, count=1)
    files = {upload(client, data): data for data in (png(20_000 + i) for i in range(6))}
    start_worker(concurrency=2)  # two processes: the other one learns of the 429 only through the channel
    for src in files:
        stored(src)

    puts = content_puts(emulator)
    (throttled,) = [r for r in puts if r.status == 429]
    (retried,) = [r for r in puts if r.path == throttled.path and r.monotonic > throttled.monotonic]
    # Between the 429 and the throttled file's own retry (Retry-After, or its backoff), no file was
    # sent but one the other process had on its way already.
    sent_meanwhile = [r for r in puts if throttled.monotonic + 0.2 < r.monotonic < retried.monotonic]
    assert sent_meanwhile == [], [
        (r.path, round(r.monotonic - throttled.monotonic, 2)) for r in sent_meanwhile
    ]
    assert retried.monotonic - throttled.monotonic >= (retry_after or 0.5) - 0.05
    assert len([r for r in puts if r.status in (200, 201)]) == len(files)
    assert len(emulator.files()) == len(files)
    for src, data in files.items():
        assert body(client.get(src)) == data
    channel = Channel.objects.get()
    assert channel.paused_until is not None and channel.health == Channel.Health.CONNECTED
    assert not StoredFile.objects.exclude(status=StoredFile.Status.STORED).exists()


def test_staff_see_a_paused_channel_in_the_channel_list(staff_client, tmp_path):
    from django.utils import timezone

    from channels import health
    from tests.channels import local_channel

    channel = local_channel(tmp_path, name="Disk", health="connected")
    until = health.pause(channel.pk, 120)
    page = staff_client.get("/admin/channels/channel/").content.decode()
    assert f"throttled: uploads wait until {until:%H:%M:%S} UTC" in page
    Channel.objects.filter(pk=channel.pk).update(paused_until=timezone.now())
    assert "throttled" not in staff_client.get("/admin/channels/channel/").content.decode()
