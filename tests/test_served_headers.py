"""What every answer of /file/ tells a browser: never to sniff, never to run a file
from this site's origin, never to go elsewhere than this site unless a channel's
download link is meant; and what the logs keep of such a link."""

import hashlib
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from channels.backends import backend_for
from channels.models import Channel
from tests.channels import s3_channel
from tests.files import HTML_PAGE, SVG, png
from tests.test_s3_channel import stored_on
from tests.test_serving import put
from uploads.models import FormerId, StoredFile

pytestmark = pytest.mark.django_db

ACTIVE = {
    "svg": (SVG, "logo.svg"),
    "html": (HTML_PAGE, "page.html"),
    "xml": (
        b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
        "a.xml",
    ),
    "js": (b"alert(document.cookie)\n", "app.js"),
}


@pytest.fixture
def public(channel, settings):
    settings.IMGBED_PUBLIC_UPLOADS = True
    # Staff may let active types in by naming them; they are still never shown from the site's origin.
    settings.IMGBED_ALLOWED_TYPES = ["image", "text", "image/svg+xml", "text/html", "application/xml"]
    channel.health = Channel.Health.CONNECTED
    channel.save()


def test_every_answer_of_file_says_nosniff(client, public, django_user_model):
    src = put(client, png(500))
    stored = StoredFile.objects.get()
    moved_from = FormerId.objects.create(public_id="old/pic.png", file=stored)
    blocked_src = put(client, png(500), name="blocked.png")
    StoredFile.objects.filter(public_id="blocked.png").update(list_type=StoredFile.ListType.BLOCK)
    etag = client.get(src)["ETag"]
    answers = {
        "200": client.get(src),
        "HEAD": client.head(src),
        "206": client.get(src, HTTP_RANGE="bytes=0-9"),
        "304": client.get(src, HTTP_IF_NONE_MATCH=etag),
        "416": client.get(src, HTTP_RANGE="bytes=99999-"),
        "404": client.get("/file/nothing-here.png"),
        "405": client.delete(src),
        "301": client.get(f"/file/{moved_from.public_id}"),
        "403": client.get(blocked_src),
    }
    for what, response in answers.items():
        expected = int(what) if what.isdigit() else 200
        assert response.status_code == expected, what
        assert response["X-Content-Type-Options"] == "nosniff", what


@pytest.mark.parametrize("kind", ACTIVE)
def test_active_content_is_an_attachment_in_a_sandbox(client, public, settings, kind):
    data, name = ACTIVE[kind]
    if kind == "js":
        settings.IMGBED_ALLOWED_TYPES = [*settings.IMGBED_ALLOWED_TYPES, "text/javascript"]
    src = put(client, data, name=name)
    for response in (client.get(src), client.head(src)):
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in response["Content-Security-Policy"]
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert not response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "content_type",
    [
        "image/svg+xml",
        "IMAGE/SVG+XML; charset=utf-8",
        "application/xhtml+xml",
        "text/html; charset=utf-8",
        "TEXT/HTML",
        "text/xml",
        "image/vnd.svg+xml",
        "application/javascript",
        "application/octet-stream",
        "",
    ],
)
def test_a_type_from_elsewhere_is_never_inline_unless_plain_media(client, public, content_type):
    """A rescan or staff's edit may record any type: only plain images, video and audio are inline."""
    src = put(client, png(300))
    StoredFile.objects.update(content_type=content_type)
    response = client.get(src)
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]
    assert "html" not in response["Content-Type"].lower()


@pytest.mark.parametrize("content_type", ["image/png", "image/webp", "video/mp4", "audio/mpeg"])
def test_plain_media_is_inline_and_sandboxed_all_the_same(client, public, content_type):
    src = put(client, png(300))
    StoredFile.objects.update(content_type=content_type)
    response = client.get(src)
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("inline;")
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/file//evil.example",
        "/file//evil.example/x.png",
        "/file/%2F%2Fevil.example",
        "/file/%5C%5Cevil.example",
        "/file/\\\\evil.example",
        "/file/https://evil.example/",
        "/file/https:%2F%2Fevil.example",
        "/file/..%2F..%2Fadmin/",
        "/file",
    ],
)
def test_no_path_under_file_sends_a_browser_elsewhere(client, public, path):
    put(client, png(300))
    response = client.get(path)
    assert response.status_code == 404, response.get("Location")
    assert "Location" not in response


def test_an_old_link_redirects_only_within_the_site(client, public):
    put(client, png(300))
    stored = StoredFile.objects.get()
    # Ids the site gives never start like this, but a row edited by hand may hold anything.
    StoredFile.objects.filter(pk=stored.pk).update(public_id="//evil.example/x.png")
    FormerId.objects.create(public_id="before.png", file=stored)
    response = client.get("/file/before.png?w=1")
    assert response.status_code == 301
    location = response["Location"]
    assert location == "/file///evil.example/x.png?w=1"
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc  # a path on this site, not another host


def test_a_file_without_a_hash_has_no_etag(client, public):
    """A rescan without hashing records no sha256: no ETag then, rather than an empty one."""
    data = png(2000)
    src = put(client, data)
    StoredFile.objects.update(sha256="")
    response = client.get(src)
    assert response.status_code == 200
    assert "ETag" not in response
    assert "Last-Modified" in response
    # An empty tag from a client matches nothing; an If-Range tag cannot match either: the whole file.
    assert client.get(src, HTTP_IF_NONE_MATCH='""').status_code == 200
    assert client.get(src, HTTP_IF_NONE_MATCH="*").status_code == 304
    whole = client.get(src, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='""')
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == data
    assert client.get(src, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"]).status_code == 304


def test_a_file_with_a_hash_keeps_its_etag(client, public):
    data = png(2000)
    src = put(client, data)
    response = client.get(src)
    assert response["ETag"] == f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    assert client.get(src, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_a_presigned_redirect_stays_out_of_the_logs(client, s3_server, caplog):
    """Even with every logger at DEBUG (LOG_LEVEL=DEBUG), botocore's signing is not logged."""
    caplog.set_level(logging.DEBUG)
    channel = s3_channel(s3_server, serve_mode="redirect")
    row = stored_on(channel, backend_for(channel), png(5000))
    response = client.get(row.url_path)
    assert response.status_code == 302
    assert response["X-Content-Type-Options"] == "nosniff"
    signature = parse_qs(urlsplit(response["Location"]).query)["X-Amz-Signature"][0]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert signature not in logged
    assert response["Location"] not in logged
