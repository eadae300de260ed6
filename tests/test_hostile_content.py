"""Hostile or broken content through POST /upload: each refused in words with nothing
kept, or taken and served so that it can never run (tests/test_upload_api.py has
HTML named .png, SVG, unknown bytes, an empty file and the size limit)."""

import json
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from channels.models import Channel
from tests.files import png
from tests.images import gif
from tests.test_upload_api import staged_files
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(channel, settings):
    settings.IMGBED_PUBLIC_UPLOADS = True
    channel.health = Channel.Health.CONNECTED
    channel.save()


@pytest.fixture(autouse=True)
def clean_staging():
    for path in staged_files():
        path.unlink()


def upload(client, data, name="pic.png", query="uploadNameType=origin"):
    return client.post(f"/upload?{query}", {"file": SimpleUploadedFile(name, data)})


def raw(client, body: bytes, content_type=MULTIPART_CONTENT):
    return client.generic("POST", "/upload", body, content_type=content_type)


def assert_refused(response, status, phrase):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = json.loads(response.content)["error"]
    assert phrase in error, error
    assert not StoredFile.objects.exists()
    assert staged_files() == []


def served(client, response):
    src = json.loads(response.content)[0]["src"]
    answer = client.get(src)
    return answer, b"".join(answer.streaming_content)


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width=100_000, height=100_000):
    """A few KB of PNG that would be 40 GB of pixels decoded."""
    idat = zlib.compress(b"\x00" * 1_000_000, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


# Polyglots: valid images that another parser reads as script or page.

GIF_JS = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=1;alert(document.domain)//" + gif(1, 1)[13:]
PNG_HTML = (
    png()[:-12] + _chunk(b"tEXt", b"x\x00<html><body><script>alert(document.domain)</script>") + png()[-12:]
)


@pytest.mark.parametrize(
    "data, name, content_type",
    [(GIF_JS, "cat.gif", "image/gif"), (PNG_HTML, "cat.png", "image/png"), (GIF_JS, "cat.js", "image/gif")],
)
def test_a_polyglot_is_taken_as_the_image_it_is_and_cannot_run(client, public, data, name, content_type):
    response = upload(client, data, name=name)
    assert response.status_code == 200, response.content
    answer, body = served(client, response)
    assert body == data
    # Its own image type, never sniffed into a script or a page, and no script even if it were.
    assert answer["Content-Type"] == content_type
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer["Content-Security-Policy"]
    assert "script-src" not in answer["Content-Security-Policy"]  # default-src 'none' covers it
    assert "default-src 'none'" in answer["Content-Security-Policy"]


def test_a_decompression_bomb_is_refused_in_words(client, public):
    bomb = png_bomb()
    assert len(bomb) < 5000
    assert_refused(upload(client, bomb), 400, "100000 x 100000 pixels (10,000 megapixels)")


def test_the_pixel_limit_is_a_setting(client, public, settings):
    settings.IMGBED_MAX_IMAGE_PIXELS = 1_000_000
    assert_refused(upload(client, png_bomb(1001, 1000)), 400, "limit of 1.0 megapixels")
    assert upload(client, png_bomb(1000, 1000), name="ok.png").status_code == 200
    settings.IMGBED_MAX_IMAGE_PIXELS = 0  # no limit
    assert upload(client, png_bomb(), name="big.png").status_code == 200
    assert StoredFile.objects.count() == 2


@pytest.mark.parametrize(
    "data, kind",
    [(png()[:20], "PNG"), (gif(3, 3)[:9], "GIF"), (png()[:32], "PNG")],
)
def test_an_image_cut_inside_its_header_is_refused_in_words(client, public, data, kind):
    assert_refused(upload(client, data), 400, f"starts like a {kind} image but ends inside its header")


def test_an_image_cut_after_its_header_is_served_as_far_as_it_goes(client, public):
    cut = png(20_000)[:10_000]
    response = upload(client, cut)
    assert response.status_code == 200, response.content
    answer, body = served(client, response)
    assert body == cut and answer["Content-Length"] == str(len(cut))
    assert (StoredFile.objects.get().width, StoredFile.objects.get().height) == (1, 1)


def test_a_type_not_allowed_says_which_are(client, public):
    zipped = b"PK\x03\x04" + b"\x00" * 100
    assert_refused(upload(client, zipped, name="photo.png"), 415, "does not accept application/zip files")
    assert_refused(upload(client, zipped, name="photo.png"), 415, "Allowed: image, video, audio")


def test_one_byte_over_the_limit_is_refused_the_limit_itself_is_taken(client, public, settings):
    data = png(5000)
    settings.IMGBED_MAX_UPLOAD_SIZE = len(data) - 1
    assert_refused(upload(client, data), 413, "larger than this site's limit of")
    settings.IMGBED_MAX_UPLOAD_SIZE = len(data)
    assert upload(client, data).status_code == 200


def test_a_missing_boundary_is_refused_in_words(client, public):
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("pic.png", png())})
    assert_refused(
        raw(client, body, content_type="multipart/form-data"), 400, "not valid multipart/form-data"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"this is not multipart at all",
        f"--{BOUNDARY}\r\nno headers end here".encode(),
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'.encode()
        + png()
        + b"\r\n--wrongboundary--\r\n",
    ],
)
def test_malformed_multipart_keeps_nothing(client, public, body):
    response = raw(client, body)
    assert response.status_code == 400, response.content
    assert not StoredFile.objects.exists() and staged_files() == []


def test_ten_thousand_form_fields_are_a_clear_400(client, public):
    fields = {f"f{i}": "x" for i in range(10_000)}
    fields["file"] = SimpleUploadedFile("pic.png", png())
    response = raw(client, encode_multipart(BOUNDARY, fields))
    assert_refused(response, 400, "more than 1000 form fields")


def test_too_many_files_are_a_clear_400(client, public):
    fields = {f"f{i}": SimpleUploadedFile(f"{i}.png", png()) for i in range(150)}
    fields["file"] = SimpleUploadedFile("pic.png", png())
    response = raw(client, encode_multipart(BOUNDARY, fields))
    assert_refused(response, 400, "more than 100 files")


def test_a_huge_form_field_is_a_clear_413(client, public):
    fields = {"note": "x" * (3 * 1024 * 1024), "file": SimpleUploadedFile("pic.png", png())}
    response = raw(client, encode_multipart(BOUNDARY, fields))
    assert_refused(response, 413, "form fields beside the file hold more than 2.5 MB")


def test_a_content_length_that_is_not_a_number_is_a_clear_400(client, public):
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("pic.png", png())})
    response = client.generic("POST", "/upload", body, content_type=MULTIPART_CONTENT, CONTENT_LENGTH="12abc")
    assert_refused(response, 400, "Content-Length header is not a number")
