"""Channels as the tests need them."""

import uuid

from channels.local.models import LocalChannel, LocalSettings
from channels.onedrive.models import OneDriveChannel, OneDriveSettings
from channels.s3.models import S3Channel, S3Settings

SIGN_IN_FIELDS = {f.name for f in OneDriveSettings._meta.concrete_fields} - {"channel"}


def onedrive_channel(**fields) -> OneDriveChannel:
    """A saved OneDrive channel with its OneDriveSettings: the sign-in fields (client_id,
    refresh_token...) go to the settings row, the rest to the channel row."""
    sign_in = {name: fields.pop(name) for name in list(fields) if name in SIGN_IN_FIELDS}
    fields.setdefault("name", "Main OneDrive")
    channel = OneDriveChannel.objects.create(**fields)
    OneDriveSettings.objects.create(channel=channel, **sign_in)
    return channel


def local_channel(path, **fields) -> LocalChannel:
    channel = LocalChannel.objects.create(name=fields.pop("name", "Disk"), **fields)
    LocalSettings.objects.create(channel=channel, path=str(path))
    return channel


def s3_channel(
    server, *, bucket=None, access_key_id=None, secret=None, public_base_url="", **fields
) -> S3Channel:
    """A channel on the loopback S3 server (tests.s3server), under a key prefix of its own."""
    channel = S3Channel.objects.create(
        name=fields.pop("name", "Bucket"),
        root_directory=fields.pop("root_directory", f"r-{uuid.uuid4().hex[:8]}"),
        **fields,
    )
    S3Settings.objects.create(
        channel=channel,
        endpoint_url=server.url,
        bucket=bucket or server.bucket,
        region=server.region,
        access_key_id=access_key_id or server.access_key_id,
        secret_access_key=secret or server.secret_access_key,
        public_base_url=public_base_url,
    )
    return channel
