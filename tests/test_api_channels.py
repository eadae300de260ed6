"""GET /api/channels: every enabled channel, grouped by kind as ImgBed groups them, and nothing secret."""

import pytest

from channels.local.models import LocalChannel, LocalSettings
from channels.onedrive.models import OneDriveChannel
from channels.s3.models import S3Channel, S3Settings
from channels.webdav.models import WebDAVChannel, WebDAVSettings

S3_SECRET = "s3-secret-never-listed"
DAV_PASSWORD = "dav-password-never-listed"


@pytest.mark.django_db
def test_every_kind_is_listed_by_kind_without_secrets(client, tmp_path):
    OneDriveChannel.objects.create(name="Drive")
    disk = LocalChannel.objects.create(name="Disk")
    LocalSettings.objects.create(channel=disk, path=str(tmp_path))
    bucket = S3Channel.objects.create(name="Bucket")
    S3Settings.objects.create(
        channel=bucket, bucket="b", access_key_id="AKIAEXAMPLE", secret_access_key=S3_SECRET
    )
    dav = WebDAVChannel.objects.create(name="Nextcloud")
    WebDAVSettings.objects.create(
        channel=dav, base_url="https://dav.example/", username="u", password=DAV_PASSWORD
    )
    LocalChannel.objects.create(name="Old disk", enabled=False)

    response = client.get("/api/channels")
    assert response.status_code == 200
    assert response.json() == {
        "onedrive": [{"name": "Drive", "type": "onedrive"}],
        "local": [{"name": "Disk", "type": "local"}],
        "s3": [{"name": "Bucket", "type": "s3"}],
        "webdav": [{"name": "Nextcloud", "type": "webdav"}],
    }
    body = response.content.decode()
    for secret in (S3_SECRET, DAV_PASSWORD, "AKIAEXAMPLE", str(tmp_path), "dav.example"):
        assert secret not in body


@pytest.mark.django_db
def test_no_channels_lists_every_kind_empty(client):
    assert client.get("/api/channels").json() == {"onedrive": [], "local": [], "s3": [], "webdav": []}
