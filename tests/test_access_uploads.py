"""POST /upload: the IP block-list (with and without trusted proxies), the address recorded, image sizes recorded."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels.models import Channel
from imgbed_site import runtime
from tests import images
from tests.files import png
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads import api
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(channel, settings):
    settings.IMGBED_PUBLIC_UPLOADS = True
    settings.IMGBED_ALLOWED_TYPES = ["image", "text"]
    settings.IMGBED_TRUSTED_PROXIES = []
    channel.health = Channel.Health.CONNECTED
    channel.save()


def post(client, data=None, name="pic.png", **headers):
    return client.post("/upload", {"file": SimpleUploadedFile(name, data or png(200))}, **headers)


def assert_blocked(response, address):
    assert response.status_code == 403, response.content
    error = json.loads(response.content)["error"]
    assert error.startswith(f"Uploads from your address ({address}) are blocked")
    assert "contact" in error
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.fixture
def blocklist(db):
    return configure(upload_ip_blocklist="203.0.113.0/24\n198.51.100.7\n2001:db8::/32")


def test_a_blocked_address_may_not_upload(client, public, blocklist):
    assert_blocked(post(client, REMOTE_ADDR="203.0.113.9"), "203.0.113.9")
    assert_blocked(post(client, REMOTE_ADDR="198.51.100.7"), "198.51.100.7")
    assert_blocked(post(client, REMOTE_ADDR="2001:db8::42"), "2001:db8::42")
    assert not StoredFile.objects.exists()
    assert post(client, REMOTE_ADDR="198.51.100.8").status_code == 200
    assert StoredFile.objects.get().uploader_ip == "198.51.100.8"


def test_a_blocked_upload_is_refused_before_any_query(client, public, blocklist):
    runtime.current()  # warm
    with CaptureQueriesContext(connection) as queries:
        assert_blocked(post(client, REMOTE_ADDR="203.0.113.9"), "203.0.113.9")
    assert len(queries) == 0


def test_the_block_applies_to_every_way_of_signing_in(client, public, blocklist, staff_client):
    assert_blocked(post(staff_client, REMOTE_ADDR="203.0.113.9"), "203.0.113.9")


def test_a_forged_forwarded_header_from_an_untrusted_peer_is_ignored(client, public, blocklist):
    # A blocked client cannot get round the block by claiming another address...
    response = post(client, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert_blocked(response, "203.0.113.9")
    # ...nor have someone else blocked, nor another address recorded.
    assert post(client, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 200
    assert StoredFile.objects.get().uploader_ip == "192.0.2.1"


def test_behind_a_trusted_proxy_the_client_address_counts(client, public, blocklist, settings):
    settings.IMGBED_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert_blocked(post(client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9"), "203.0.113.9")
    # The proxy's own address is not the one blocked or recorded.
    response = post(client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.1, 10.0.0.7")
    assert response.status_code == 200
    assert StoredFile.objects.get().uploader_ip == "192.0.2.1"


def test_a_change_to_the_list_applies_to_the_next_upload(client, public):
    assert post(client, REMOTE_ADDR="203.0.113.9").status_code == 200
    configure(upload_ip_blocklist="203.0.113.9")
    assert_blocked(post(client, REMOTE_ADDR="203.0.113.9"), "203.0.113.9")
    configure(upload_ip_blocklist="")
    assert post(client, REMOTE_ADDR="203.0.113.9").status_code == 200


@pytest.mark.parametrize(
    "data, name, size",
    [
        (png(width=7, height=5), "a.png", (7, 5)),
        (images.gif(9, 4), "a.gif", (9, 4)),
        (images.jpeg(33, 17), "a.jpg", (33, 17)),
        (images.jpeg(33, 17, orientation=6), "turned.jpg", (17, 33)),
        (images.jpeg(1200, 800, padding=200_000), "icc.jpg", (1200, 800)),  # read beyond the kept head
        (images.bmp(6, 2), "a.bmp", (6, 2)),
        (images.REAL_WEBP_LOSSY_5x3, "a.webp", (5, 3)),
        (images.REAL_AVIF_5x3, "a.avif", (5, 3)),
        (b"just some notes\n", "notes.txt", None),
    ],
)
def test_image_sizes_are_recorded(client, public, data, name, size):
    assert post(client, data, name=name).status_code == 200
    row = StoredFile.objects.get()
    assert (row.width, row.height) == (size or (None, None))


def test_an_image_with_an_unreadable_header_has_no_size(client, public):
    data = bytearray(png(100))
    data[12:16] = b"IHDX"  # still sniffed as PNG, but the size is not where it belongs
    assert post(client, bytes(data)).status_code == 200
    row = StoredFile.objects.get()
    assert row.content_type == "image/png" and row.width is None and row.height is None


def test_an_early_started_upload_gets_its_size_too(client, public, settings, monkeypatch):
    settings.IMGBED_FRAGMENT_SIZE = 327680
    settings.IMGBED_EARLY_START_MAX = 1
    settings.CELERY_TASK_ALWAYS_EAGER = False
    started = []
    real = api._Upload.start_early

    def start_early(self, handler, expected_size):
        row = real(self, handler, expected_size)
        started.append(row)
        return row

    monkeypatch.setattr(api._Upload, "start_early", start_early)
    assert post(client, png(1_000_000, width=640, height=480)).status_code == 200
    assert started and started[0] is not None  # the row was made while the body arrived
    row = StoredFile.objects.get()
    assert (row.width, row.height, row.receiving) == (640, 480, False)
