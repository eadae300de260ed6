"""The 503 for "no channel" tells a fresh site's visitors and staff what is really missing."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.files import png
from uploads.models import StoredFile, UploadCode

pytestmark = pytest.mark.django_db

CODE = "let-me-in"
ADD_CHANNEL = "/admin/channels/channel/add/"


@pytest.fixture
def code(db):
    row = UploadCode(label="friends")
    row.set_code(CODE)
    row.save()
    return row


def upload(client, query=""):
    return client.post(f"/upload?{query}", {"file": SimpleUploadedFile("a.png", png(1000))})


def refusal(response):
    assert response.status_code == 503, response.content
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not StoredFile.objects.exists()
    return json.loads(response.content)["error"]


def test_fresh_site_says_no_channel_is_set_up(client, code, site_url):
    message = refusal(upload(client, f"authCode={CODE}"))
    assert "No storage channel is set up yet" in message
    assert "Try again later" not in message
    assert "/admin/" not in message  # a visitor cannot add one


def test_fresh_site_tells_staff_where_to_add_one(staff_client, site_url):
    message = refusal(upload(staff_client))
    assert "No storage channel is set up yet" in message
    assert f"{site_url}{ADD_CHANNEL}" in message


def test_fresh_site_large_upload_is_refused_unread_with_the_same_words(staff_client, site_url):
    response = staff_client.generic(
        "POST",
        "/upload",
        b"--x\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
    )
    message = refusal(response)
    assert "No storage channel is set up yet" in message
    assert f"{site_url}{ADD_CHANNEL}" in message


def test_existing_channels_that_cannot_take_it_keep_try_again_later(staff_client, channel, site_url):
    channel.enabled = False
    channel.save()
    message = refusal(upload(staff_client))
    assert "No storage channel is available right now. Try again later or tell the site's staff." == message
