"""Staff add an S3 bucket as people do: Channels, Add channel, the kind, its form, Test connection,
and the bucket in the one list with its used / capacity bar. Against the loopback S3 server."""

import pytest

from channels.s3.models import S3Channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in(page, live_server, settings, django_user_model):
    settings.SITE_URL = live_server.url
    django_user_model.objects.create_superuser("admin", password="password")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return live_server.url


def test_add_an_s3_channel_test_it_and_see_it_listed(page, signed_in, s3_server):
    page.goto(f"{signed_in}/admin/channels/channel/")
    page.click("text=Add channel")
    page.click("a.channel-kind:has-text('S3')")
    assert "R2" in page.inner_text("#content-main")  # the form says which services the kind covers

    page.fill("#id_name", "Pictures bucket")
    page.fill("#id_endpoint_url", s3_server.url)
    page.fill("#id_bucket", s3_server.bucket)
    page.fill("#id_region", s3_server.region)
    page.fill("#id_access_key_id", s3_server.access_key_id)
    page.fill("#id_secret_access_key", s3_server.secret_access_key)
    page.fill("#id_root_directory", "browser-test")
    page.fill("#id_capacity", "10737418240")
    page.click("input[name=_save]")

    page.wait_for_url(f"{signed_in}/admin/channels/channel/")
    message = page.inner_text(".messagelist")
    assert "Pictures bucket was saved and works" in message, message
    row = page.locator("#result_list tbody tr", has_text="Pictures bucket")
    assert row.count() == 1
    assert "s3" in row.inner_text().lower()
    assert row.locator("progress").count() == 1  # used / capacity as a bar
    assert row.locator(".quota-figures").inner_text().replace("\xa0", " ") == "0 bytes / 10.0 GB"
    assert s3_server.secret_access_key not in page.content()

    row.locator("a", has_text="Pictures bucket").click()
    page.click("#test-connection")
    message = page.inner_text(".messagelist")
    assert "wrote, read back and deleted a test object" in message, message
    assert s3_server.secret_access_key not in page.content()
    channel = S3Channel.objects.get(name="Pictures bucket")
    assert channel.s3_settings.secret_access_key == s3_server.secret_access_key  # kept, encrypted
