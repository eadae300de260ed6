"""Each kind's server down for a while (IMGBED_TEST_OUTAGE seconds, 30 by default), with a real
worker: uploads wait, the channels show degraded, then every file is stored once on its own
channel (no failover: the errors were transient) and the channels are healthy again."""

import hashlib
import json
import os
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from channels.webdav.models import WebDAVChannel, WebDAVSettings
from tests.channels import s3_channel
from tests.files import png
from tests.manage_support import CODE, content, upload_code
from tests.outage import Switch
from tests.worker import wait_for
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE = float(os.environ.get("IMGBED_TEST_OUTAGE", "30"))


def through(switch: Switch, url: str) -> str:
    """`url` with its host and port those of the switch in front of it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{switch.port}"))


def switch_for(url: str) -> Switch:
    parts = urlsplit(url)
    return Switch(parts.hostname, parts.port)


@pytest.fixture
def switches():
    made = []
    yield made
    for switch in made:
        switch.close()


def test_servers_down_then_back_every_file_stored_once_on_its_channel(
    client, settings, channel, emulator, s3_server, webdav_server, start_worker, switches
):
    upload_code()
    graph, s3, dav = (switch_for(u) for u in (emulator.base_url, s3_server.url, webdav_server.url))
    switches += [graph, s3, dav]
    graph_url = through(graph, emulator.base_url)
    settings.ONEDRIVE_GRAPH_URL = settings.ONEDRIVE_LOGIN_URL = graph_url
    bucket = s3_channel(s3_server, name="Bucket")
    from channels.s3.models import S3Settings

    S3Settings.objects.filter(channel=bucket).update(endpoint_url=through(s3, s3_server.url))
    folder = WebDAVChannel.objects.create(name="DAV", root_directory=f"r-{uuid.uuid4().hex[:8]}")
    WebDAVSettings.objects.create(
        channel=folder,
        base_url=through(dav, webdav_server.files_url),
        username=webdav_server.user,
        password=webdav_server.password,
    )
    Channel.objects.update(health=Channel.Health.CONNECTED)
    names = {"Main OneDrive": channel.pk, "Bucket": bucket.pk, "DAV": folder.pk}

    for switch in switches:
        switch.down()
    went_down = time.monotonic()
    files = {}
    for name in names:
        for i in range(2):
            data = png(30_000 + 100 * len(files))
            response = client.post(
                f"/upload?authCode={CODE}&channelName={name}", {"file": SimpleUploadedFile(f"f{i}.png", data)}
            )
            assert response.status_code == 200, response.content  # accepted while the servers are down
            files[json.loads(response.content)[0]["src"]] = (name, data)
    start_worker(concurrency=3, ONEDRIVE_GRAPH_URL=graph_url, ONEDRIVE_LOGIN_URL=graph_url)

    # The workers meet the outage: each channel shows degraded, nothing is stored or failed.
    wait_for(
        lambda: set(Channel.objects.values_list("health", flat=True)) == {Channel.Health.DEGRADED},
        timeout=OUTAGE,
        what="every channel to show degraded",
    )
    assert not StoredFile.objects.filter(
        status__in=[StoredFile.Status.STORED, StoredFile.Status.FAILED]
    ).exists()
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - went_down)))  # the outage lasts its full length
    assert not StoredFile.objects.exclude(
        status__in=[StoredFile.Status.PENDING, StoredFile.Status.UPLOADING]
    ).exists()
    for switch in switches:
        switch.up()
    back = time.monotonic()

    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == len(files),
        timeout=120,
        what="every file to be stored after the outage",
    )
    print(
        f"outage {OUTAGE:.0f} s: every file stored {time.monotonic() - back:.1f} s after the servers came back"
    )
    for src, (name, data) in files.items():
        row = StoredFile.objects.get(public_id=src.removeprefix("/file/"))
        assert row.channel_id == names[name] and row.moved_note == ""  # no failover on a transient outage
        assert row.sha256 == hashlib.sha256(data).hexdigest()
        served = client.get(src)
        assert served.status_code == 200 and content(served) == data
    # Once each: two files per channel, no more.
    assert len(emulator.files()) == 2
    keys = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=bucket.root_directory + "/")
    assert keys["KeyCount"] == 2
    assert (
        len([p for p in (webdav_server.root / "files" / folder.root_directory).rglob("*") if p.is_file()])
        == 2
    )
    wait_for(
        lambda: set(Channel.objects.values_list("health", flat=True)) == {Channel.Health.CONNECTED},
        timeout=10,
        what="every channel to be healthy again",
    )
