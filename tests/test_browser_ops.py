"""Staff open the operations page, see a failed upload, retry it, and see it stored."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from tests.files import png
from tests.worker import wait_for
from uploads.models import StoredFile, UploadCode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_url(settings, live_server):
    settings.SITE_URL = live_server.url
    return settings.SITE_URL


def test_operations_page_retry_a_failure(
    page, site_url, admin_user, client, channel, onedrive_settings, emulator, start_worker
):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    code = UploadCode(label="t")
    code.set_code("c")
    code.save()
    emulator.set_drive_full(True)
    start_worker()
    response = client.post("/upload?authCode=c", {"file": SimpleUploadedFile("big.png", png(200_000))})
    public_id = json.loads(response.content)[0]["src"].removeprefix("/file/")
    wait_for(lambda: StoredFile.objects.filter(status=StoredFile.Status.FAILED).exists(), what="the failure")

    page.goto(f"{site_url}/admin/login/?next=/admin/operations/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site_url}/admin/operations/")
    assert page.inner_text(".count-failed") == "1"
    assert page.inner_text(".count-stored") == "0"
    failure = page.locator("#failures tr.failure", has_text=public_id)
    assert "full" in failure.locator(".reason").inner_text()
    workers = page.locator("#workers-online")
    if workers.count():  # the filesystem broker cannot be asked; Redis can
        assert int(workers.inner_text()) >= 1
    assert "needs" not in page.inner_text("#channels").lower()

    emulator.set_drive_full(False)
    failure.locator("button.retry").click()
    page.wait_for_url(f"{site_url}/admin/operations/")
    assert "sent to the workers again" in page.inner_text(".messagelist")
    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).exists(), what="the retried upload"
    )
    page.reload()
    assert page.inner_text(".count-stored") == "1"
    assert page.inner_text(".count-failed") == "0"
    assert "None." in page.inner_text("#failures")


def test_operations_page_of_a_new_site_says_there_are_no_channels(page, site_url, admin_user):
    page.goto(f"{site_url}/admin/login/?next=/admin/operations/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site_url}/admin/operations/")
    channels = page.locator("#channels")
    assert "All channels are connected" not in channels.inner_text()
    assert "No channels yet" in page.locator("#no-channels").inner_text()
    schedule = page.locator("#periodic")
    assert "every day" in schedule.inner_text() and "every 5 minutes" in schedule.inner_text()
    page.locator("#no-channels a", has_text="Add a channel").click()
    page.wait_for_url(f"{site_url}/admin/channels/channel/add/")
    assert page.locator("a.channel-kind", has_text="Local folder").count() == 1
