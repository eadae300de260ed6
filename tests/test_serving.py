"""GET and HEAD /file/<id>: ranges, conditional requests, and safe headers."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from tests.files import png
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(channel, settings):
    settings.IMGBED_PUBLIC_UPLOADS = True
    settings.IMGBED_ALLOWED_TYPES = ["image", "video", "audio", "text", "application/pdf"]
    channel.health = Channel.Health.CONNECTED
    channel.save()


def put(client, data, name="pic.png"):
    response = client.post("/upload?uploadNameType=origin", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200, response.content
    return json.loads(response.content)[0]["src"]


def content(response):
    return b"".join(response.streaming_content)


def test_headers_of_an_image(client, public):
    data = png(2000)
    src = put(client, data, name="ünï 图片.png")
    response = client.get(src)
    assert content(response) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(data))
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "public, max-age=2592000"
    assert response["Access-Control-Allow-Origin"] == "*"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert (
        disposition
        == "inline; filename=\"uni .png\"; filename*=UTF-8''%C3%BCn%C3%AF%20%E5%9B%BE%E7%89%87.png"
    )


def test_head_reports_the_real_length(client, public):
    data = png(5000)
    src = put(client, data)
    response = client.head(src)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    assert response.content == b""


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=-500", None, None),
        ("bytes=100-", 100, None),
        ("bytes=10-999999", 10, None),
    ],
)
def test_single_ranges(client, public, header, start, end):
    data = png(3000)
    src = put(client, data)
    response = client.get(src, HTTP_RANGE=header)
    assert response.status_code == 206
    expected = data[-500:] if start is None else data[start : (end + 1 if end is not None else None)]
    assert content(response) == expected
    first = len(data) - 500 if start is None else start
    assert response["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    assert response["Content-Length"] == str(len(expected))


def test_unsatisfiable_range(client, public):
    data = png(100)
    src = put(client, data)
    response = client.get(src, HTTP_RANGE=f"bytes={len(data)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"


def test_conditional_requests(client, public):
    src = put(client, png(100))
    first = client.get(src)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert client.get(src, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(src, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    assert client.get(src, HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize(
    "data, name",
    [(b"just some notes\n", "notes.txt"), (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "doc.pdf")],
)
def test_non_media_is_an_attachment(client, public, data, name):
    src = put(client, data, name=name)
    response = client.get(src)
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_unknown_and_deleted_ids_are_404(client, public):
    assert client.get("/file/nope.png").status_code == 404
    src = put(client, png(100))
    StoredFile.objects.update(status=StoredFile.Status.DELETED)
    assert client.get(src).status_code == 404
    assert client.head(src).status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["get", "head"])
def test_a_file_stored_while_its_link_is_read_is_served_from_the_channel(client, public, monkeypatch, method):
    """serve() reads the row (still uploading), then looks for the staged copy; in between a
    worker stores the file and removes that copy. The link answers with the file, not 404."""
    from uploads import staging
    from uploads.tasks import upload_to_channel

    data = png(3000)
    src = put(client, data)
    row = StoredFile.objects.get()
    assert row.status == StoredFile.Status.PENDING

    worker_ran = []

    def worker_finishes_first(real):
        def lookup(*args, **kwargs):
            if not worker_ran:  # the first look at staging, from serve(): the worker goes first
                worker_ran.append(True)
                assert upload_to_channel(row.pk) == "stored"
            return real(*args, **kwargs)

        return lookup

    for name in ("exists", "open_if_present", "open_at"):
        monkeypatch.setattr(staging, name, worker_finishes_first(getattr(staging, name)))
    response = getattr(client, method)(src)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    if method == "get":
        assert content(response) == data
    assert StoredFile.objects.get().status == StoredFile.Status.STORED
    assert StoredFile.objects.get().staged_name == ""
