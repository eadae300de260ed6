"""One admin for every channel kind: the list, "Add channel" by kind, a kind's form and its
Test connection."""

import pytest

from channels import probes
from channels.local.models import LocalChannel, LocalSettings
from channels.models import Channel

pytestmark = pytest.mark.django_db

LIST = "/admin/channels/channel/"


def local(tmp_path, name="Disk", **fields):
    channel = LocalChannel.objects.create(name=name, **fields)
    LocalSettings.objects.create(channel=channel, path=str(tmp_path / name))
    return channel


def local_form(tmp_path, **overrides):
    data = {
        "name": "Disk",
        "path": str(tmp_path / "files"),
        "root_directory": "",
        "priority": "10",
        "weight": "1",
        "capacity": str(50 * 1024**2),
        "fill_threshold": "95",
        "enabled": "on",
        "note": "",
    }
    data.update(overrides)
    return data


def test_one_list_shows_every_kind_in_choosing_order(admin_client, tmp_path, channel):
    local(tmp_path, "Fallback", priority=20, capacity=100 * 1024**2, stored_bytes=25 * 1024**2)
    page = admin_client.get(LIST).content.decode()
    assert "Main OneDrive" in page and "Fallback" in page
    assert page.index("Main OneDrive") < page.index("Fallback")  # priority 10 before 20
    assert "25.0\xa0MB / 100.0\xa0MB" in page  # the local channel's bar: its capacity
    assert admin_client.get(LIST + "?kind__exact=local").content.decode().count("Main OneDrive") == 0


def test_a_row_opens_its_kind_page(admin_client, tmp_path, channel):
    disk = local(tmp_path)
    assert (
        admin_client.get(f"{LIST}{disk.pk}/change/")["Location"]
        == f"/admin/channels/localchannel/{disk.pk}/change/"
    )
    assert (
        admin_client.get(f"{LIST}{channel.pk}/change/")["Location"]
        == f"/admin/channels/onedrivechannel/{channel.pk}/change/"
    )


def test_add_channel_asks_for_the_kind(admin_client):
    page = admin_client.get(LIST + "add/").content.decode()
    for label, url in [
        ("OneDrive", "/admin/channels/onedrivechannel/add/"),
        ("Local folder", "/admin/channels/localchannel/add/"),
        ("S3-compatible", "/admin/channels/s3channel/add/"),
        ("WebDAV", "/admin/channels/webdavchannel/add/"),
    ]:
        assert label in page and url in page
    assert "Cloudflare R2, MinIO" in page


def test_adding_a_local_channel_tests_it_and_says_so_once(admin_client, tmp_path):
    response = admin_client.post("/admin/channels/localchannel/add/", local_form(tmp_path), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and "Disk was saved and works: wrote, read back and deleted" in said[0]
    channel = Channel.objects.get(name="Disk")
    assert (channel.kind, channel.health, channel.capacity) == (
        "local",
        Channel.Health.CONNECTED,
        50 * 1024**2,
    )
    assert LocalSettings.objects.get(channel=channel).path == str(tmp_path / "files")


def test_a_local_folder_that_cannot_work_is_saved_with_a_warning(admin_client, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    response = admin_client.post(
        "/admin/channels/localchannel/add/",
        local_form(tmp_path, path=str(tmp_path / "a-file" / "sub")),
        follow=True,
    )
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and "was saved, but the test failed" in said[0]
    assert Channel.objects.get(name="Disk").health != Channel.Health.CONNECTED


def test_bad_local_settings_are_form_errors(admin_client, tmp_path):
    response = admin_client.post(
        "/admin/channels/localchannel/add/", local_form(tmp_path, path="relative/dir")
    )
    assert response.status_code == 200
    assert "Give an absolute folder" in response.content.decode()
    assert not Channel.objects.exists()


def test_test_connection_button_on_a_kind_page(admin_client, tmp_path):
    disk = local(tmp_path)
    page = admin_client.get(f"/admin/channels/localchannel/{disk.pk}/change/").content.decode()
    assert f"/admin/channels/localchannel/{disk.pk}/test-connection/" in page
    response = admin_client.post(f"/admin/channels/localchannel/{disk.pk}/test-connection/", follow=True)
    assert "Disk works: wrote, read back and deleted" in response.content.decode()
    assert Channel.objects.get(pk=disk.pk).health == Channel.Health.CONNECTED


def test_editing_priority_from_the_list(admin_client, tmp_path):
    disk = local(tmp_path)
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(disk.pk),
        "form-0-priority": "3",
        "form-0-weight": "2",
        "form-0-enabled": "on",
        "_save": "Save",
    }
    admin_client.post(LIST, data)
    disk.refresh_from_db()
    assert (disk.priority, disk.weight) == (3, 2)


def test_every_kind_page_charts_its_space_readings(admin_client, tmp_path):
    disk = local(tmp_path, capacity=10 * 1024**2)
    page = admin_client.get(f"/admin/channels/localchannel/{disk.pk}/change/").content.decode()
    assert "Not enough readings yet" in page
    for _ in range(3):  # as the beat's pull_quotas records them
        probes.read_quota(disk.pk)
    page = admin_client.get(f"/admin/channels/localchannel/{disk.pk}/change/").content.decode()
    assert '<svg class="quota-chart"' in page and "3 readings from" in page
