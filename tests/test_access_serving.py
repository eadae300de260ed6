"""GET and HEAD /file/<id> under staff's rules: Block, White, whitelist mode, placeholder or redirect."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels.models import Channel
from imgbed_site import runtime
from tests.files import png
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads import placeholder, staging
from uploads.dimensions import measure
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

BLOCK, WHITE, NONE = StoredFile.ListType.BLOCK, StoredFile.ListType.WHITE, StoredFile.ListType.NONE


@pytest.fixture
def public(channel, settings):
    settings.IMGBED_PUBLIC_UPLOADS = True
    channel.health = Channel.Health.CONNECTED
    channel.save()


def put(client, data=None, name="pic.png", list_type=NONE):
    response = client.post(
        "/upload?uploadNameType=origin", {"file": SimpleUploadedFile(name, data or png(100))}
    )
    assert response.status_code == 200, response.content
    src = json.loads(response.content)[0]["src"]
    StoredFile.objects.filter(public_id=src.removeprefix("/file/")).update(list_type=list_type)
    return src


def content(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_placeholder(response, kind, phrase):
    assert response.status_code == 403
    assert response["Content-Type"] == "image/png"
    assert response["X-Imgbed-Refusal"] == kind
    assert phrase in response["X-Imgbed-Reason"]
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(placeholder.png()))


def test_files_are_served_when_no_rule_applies(client, public):
    data = png(500)
    src = put(client, data)
    response = client.get(src)
    assert response.status_code == 200
    assert content(response) == data
    assert "X-Imgbed-Refusal" not in response
    assert "Referer" not in response.get("Vary", "")


def test_a_blocked_file_answers_403_with_the_placeholder_image(client, public):
    src = put(client, list_type=BLOCK)
    response = client.get(src)
    assert_placeholder(response, "blocked", "blocked by the site's staff")
    assert response.content == placeholder.png()
    assert measure(response.content) == (placeholder.WIDTH, placeholder.HEIGHT)  # a real image


def test_head_answers_as_get_without_the_body(client, public):
    src = put(client, list_type=BLOCK)
    response = client.head(src)
    assert_placeholder(response, "blocked", "blocked")
    assert response.content == b""


def test_a_blocked_file_opened_as_a_page_says_why_in_words(client, public):
    src = put(client, list_type=BLOCK)
    for headers in (
        {"HTTP_SEC_FETCH_DEST": "document"},
        {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*"},
    ):
        response = client.get(src, **headers)
        assert response.status_code == 403
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        text = response.content.decode()
        assert "This file has been blocked by the site's staff." in text
        assert "contact the site's staff" in text
    # An <img> on a page gets the image, whatever else it accepts.
    image = client.get(src, HTTP_SEC_FETCH_DEST="image", HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert image["Content-Type"] == "image/png"


def test_a_refused_file_is_never_read_nor_answered_304(client, public, monkeypatch):
    src = put(client)
    etag = client.get(src)["ETag"]
    StoredFile.objects.update(list_type=BLOCK)

    def must_not_open(*args, **kwargs):
        raise AssertionError("a refused file's bytes were opened")

    monkeypatch.setattr(staging, "open_if_present", must_not_open)
    assert client.get(src, HTTP_IF_NONE_MATCH=etag).status_code == 403
    assert client.get(src, HTTP_RANGE="bytes=0-9").status_code == 403


def test_whitelist_mode_serves_only_allowed_files(client, public):
    white = put(client, name="white.png", list_type=WHITE)
    normal = put(client, name="normal.png")
    blocked = put(client, name="blocked.png", list_type=BLOCK)
    assert client.get(normal).status_code == 200
    configure(whitelist_mode=True)
    assert client.get(white).status_code == 200
    assert_placeholder(client.get(normal), "not-approved", "approved")
    assert_placeholder(client.head(normal), "not-approved", "approved")
    assert_placeholder(client.get(blocked), "blocked", "blocked")
    configure(whitelist_mode=False)
    assert client.get(normal).status_code == 200


def test_an_allowed_file_is_served_whatever_the_mode(client, public):
    src = put(client, list_type=WHITE)
    configure(whitelist_mode=True)
    response = client.get(src, HTTP_RANGE="bytes=0-3")
    assert response.status_code == 206
    assert content(response) == png(100)[:4]


def test_redirect_to_the_staff_placeholder_url(client, public):
    blocked = put(client, name="blocked.png", list_type=BLOCK)
    normal = put(client, name="normal.png")
    configure(whitelist_mode=True, refusal="redirect", placeholder_url="https://cdn.example.com/blocked.png")
    for method in (client.get, client.head):
        response = method(blocked)
        assert response.status_code == 302
        assert response["Location"] == "https://cdn.example.com/blocked.png"
        assert response["X-Imgbed-Refusal"] == "blocked"
        assert response["Cache-Control"] == "no-store"
    response = client.get(normal)
    assert response.status_code == 302 and response["X-Imgbed-Refusal"] == "not-approved"


def test_a_path_on_this_site_as_the_placeholder(client, public):
    src = put(client, list_type=BLOCK)
    configure(refusal="redirect", placeholder_url="/static/blocked.png")
    assert client.get(src)["Location"] == "/static/blocked.png"


def test_the_rules_cost_no_query(client, public):
    src = put(client, list_type=BLOCK)
    configure(whitelist_mode=True)
    client.get(src)  # warm: the settings are in the cache and this process's memo
    for path in (src, put(client, name="other.png")):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 403
        assert not [q["sql"] for q in queries if "sitesettings" in q["sql"].lower()]
    with CaptureQueriesContext(connection) as queries:
        runtime.current()
    assert len(queries) == 0


def test_a_change_takes_effect_on_the_next_request(client, public):
    src = put(client)
    assert client.get(src).status_code == 200
    configure(whitelist_mode=True)
    assert client.get(src).status_code == 403
    StoredFile.objects.update(list_type=WHITE)
    assert client.get(src).status_code == 200
