"""The referer allow-list on /file/<id>: allowed, refused, absent and unreadable Referers."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from tests.files import png
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads.models import StoredFile
from uploads.serving_rules import host_allowed, referer_host

pytestmark = pytest.mark.django_db


@pytest.fixture
def src(client, channel, settings, site_url):
    settings.IMGBED_PUBLIC_UPLOADS = True
    channel.health = Channel.Health.CONNECTED
    channel.save()
    response = client.post("/upload", {"file": SimpleUploadedFile("pic.png", png(100))})
    assert response.status_code == 200, response.content
    return json.loads(response.content)[0]["src"]


def get(client, src, referer=None, **headers):
    if referer is not None:
        headers["HTTP_REFERER"] = referer
    return client.get(src, **headers)


@pytest.fixture
def allow_list(db):
    return configure(allowed_referers="blog.example.com\nfriends.org")


@pytest.mark.parametrize(
    "referer",
    [
        "https://blog.example.com/2026/a-post.html",
        "http://blog.example.com:8080/",
        "https://friends.org/",
        "https://www.friends.org/gallery?page=2",  # a subdomain of an entry
        "https://FRIENDS.ORG./x",  # case and the root's dot do not matter
        "http://testserver/admin/uploads/storedfile/",  # this site (SITE_URL)
        "http://localhost:8000/",  # this site (ALLOWED_HOSTS)
    ],
)
def test_allowed_referers(client, src, allow_list, referer):
    response = get(client, src, referer)
    assert response.status_code == 200, response.get("X-Imgbed-Reason")
    assert "Referer" in response["Vary"]  # caches keep one answer per Referer


@pytest.mark.parametrize(
    "referer, host",
    [
        ("https://evil.example.net/hotlink.html", "evil.example.net"),
        ("https://notfriends.org/", "notfriends.org"),  # a suffix, but not a subdomain
        ("https://friends.org.evil.com/", "friends.org.evil.com"),
        ("https://example.com/", "example.com"),  # the parent of an entry is not the entry
    ],
)
def test_refused_referers(client, src, allow_list, referer, host):
    response = get(client, src, referer)
    assert response.status_code == 403
    assert response["Content-Type"] == "image/png"
    assert response["X-Imgbed-Refusal"] == "referer-not-allowed"
    assert response["X-Imgbed-Reason"] == f"This site does not allow its files to be shown on {host}."
    page = get(client, src, referer, HTTP_SEC_FETCH_DEST="document")
    assert "ask the site's staff to allow that site" in page.content.decode()


@pytest.mark.parametrize(
    "referer", ["http://[::1", "not a url", "about:blank", "https://", "//no-scheme.org/"]
)
def test_an_unreadable_referer_is_refused(client, src, allow_list, referer):
    response = get(client, src, referer)
    assert response.status_code == 403
    assert response["X-Imgbed-Refusal"] == "referer-unreadable"
    assert "not a web address" in response["X-Imgbed-Reason"]


def test_no_referer_is_allowed_unless_refused(client, src, allow_list):
    assert get(client, src).status_code == 200
    assert get(client, src, "").status_code == 200  # an empty header is no header
    configure(refuse_without_referer=True)
    response = get(client, src)
    assert response.status_code == 403
    assert response["X-Imgbed-Refusal"] == "referer-missing"
    assert get(client, src, "https://blog.example.com/").status_code == 200


def test_refusing_requests_without_a_referer_alone_allows_only_this_site(client, src):
    configure(refuse_without_referer=True)
    assert get(client, src, "http://testserver/").status_code == 200
    assert get(client, src, "https://blog.example.com/").status_code == 403
    assert get(client, src).status_code == 403


def test_without_an_allow_list_any_referer_is_served(client, src):
    for referer in ("https://anyone.example/", "not a url", None):
        response = get(client, src, referer)
        assert response.status_code == 200
        assert "Referer" not in response.get("Vary", "")


def test_the_referer_comes_before_the_files_marks(client, src, allow_list):
    StoredFile.objects.update(list_type=StoredFile.ListType.WHITE)
    assert get(client, src, "https://evil.example.net/")["X-Imgbed-Refusal"] == "referer-not-allowed"
    StoredFile.objects.update(list_type=StoredFile.ListType.BLOCK)
    assert get(client, src, "https://blog.example.com/")["X-Imgbed-Refusal"] == "blocked"


def test_a_referer_refusal_can_redirect(client, src):
    configure(
        allowed_referers="blog.example.com",
        refusal="redirect",
        placeholder_url="https://cdn.example.com/no.png",
    )
    response = client.head(src, HTTP_REFERER="https://evil.example.net/")
    assert response.status_code == 302
    assert response["Location"] == "https://cdn.example.com/no.png"
    assert response["X-Imgbed-Refusal"] == "referer-not-allowed"


def test_a_wildcard_allowed_host_lets_no_one_in(client, src, settings):
    settings.ALLOWED_HOSTS = ["*"]
    configure(allowed_referers="blog.example.com")
    assert get(client, src, "https://evil.example.net/").status_code == 403
    assert get(client, src, "http://testserver/").status_code == 200  # SITE_URL still counts


def test_django_subdomain_entries_in_allowed_hosts(client, src, settings):
    settings.ALLOWED_HOSTS = [".img.example.net", "testserver"]
    configure(allowed_referers="blog.example.com")
    assert get(client, src, "https://cdn.img.example.net/").status_code == 200
    assert get(client, src, "https://img.example.net/").status_code == 200


def test_a_referer_of_unprintable_bytes_is_named_safely(client, src, allow_list):
    response = get(client, src, "https://\u00e9vil.example/")
    assert response.status_code == 403
    assert response["X-Imgbed-Reason"].isascii()


def test_host_matching():
    assert host_allowed("a.b.example.com", ("example.com",))
    assert not host_allowed("badexample.com", ("example.com",))
    assert host_allowed("2001:db8::1", ("2001:db8::1",))
    assert referer_host("http://[2001:db8::1]:8080/x") == "2001:db8::1"
    assert referer_host("https://Example.COM./") == "example.com"
    assert referer_host("android-app://com.example.app/") == "com.example.app"
    assert referer_host("http://[::1") is None


def test_not_modified_answers_vary_on_the_referer_too(client, src, allow_list):
    first = get(client, src, "https://blog.example.com/")
    again = get(client, src, "https://blog.example.com/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert "Referer" in again["Vary"]
    # A conditional request from a refused page is refused, not told "not modified".
    refused = get(client, src, "https://evil.example.net/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert refused.status_code == 403
