"""Site settings: the admin's one page, and requests reading them from a cache, never with a query each."""

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imgbed_site import runtime
from imgbed_site.models import SiteSettings
from tests.caches import DownCache
from tests.sitesettings import configure, forget_site_settings  # noqa: F401

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
CHANGE_URL = f"/admin/imgbed_site/sitesettings/{SiteSettings.SINGLETON_PK}/change/"


@pytest.fixture
def clock(monkeypatch):
    """The memo's clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(runtime, "_clock", lambda: now[0])

    def advance(seconds):
        now[0] += seconds

    return advance


def queries_of(function):
    with CaptureQueriesContext(connection) as captured:
        result = function()
    return result, len(captured)


def test_defaults_without_a_row_and_none_made():
    rules = runtime.current()
    assert rules == runtime.Runtime()
    assert not rules.whitelist_mode and not rules.checks_referer and rules.refusal == "placeholder"
    assert not SiteSettings.objects.exists()


def test_a_warm_read_makes_no_query(clock):
    configure(whitelist_mode=True)
    runtime.current()
    rules, count = queries_of(runtime.current)
    assert count == 0 and rules.whitelist_mode
    clock(runtime.MEMO_SECONDS + 1)  # the memo is old: the cache answers, still no query
    rules, count = queries_of(runtime.current)
    assert count == 0 and rules.whitelist_mode


def test_a_cold_cache_costs_one_query_then_none(clock):
    configure(whitelist_mode=True)
    runtime.forget()
    _, count = queries_of(runtime.current)
    assert count == 1
    clock(runtime.MEMO_SECONDS + 1)
    _, count = queries_of(runtime.current)
    assert count == 0


def test_saving_takes_effect_at_once_in_this_process():
    assert not runtime.current().whitelist_mode
    configure(whitelist_mode=True)
    assert runtime.current().whitelist_mode


def test_another_process_follows_within_the_memo_time(clock, django_capture_on_commit_callbacks):
    """Another process keeps its memo; the cache (shared, with Redis) has the new row once the save commits."""
    before = runtime.current()
    with django_capture_on_commit_callbacks(execute=True):
        configure(whitelist_mode=True)
    runtime._memo = (1000.0 + runtime.MEMO_SECONDS, before)  # what the other process still holds
    assert not runtime.current().whitelist_mode
    clock(runtime.MEMO_SECONDS / 2)
    assert not runtime.current().whitelist_mode
    clock(runtime.MEMO_SECONDS / 2 + 0.01)
    rules, count = queries_of(runtime.current)
    assert rules.whitelist_mode and count == 0  # from the cache, not the database


def test_a_reader_of_the_old_row_cannot_overwrite_the_new_one(django_capture_on_commit_callbacks):
    old = runtime._from_db()
    with django_capture_on_commit_callbacks(execute=True):
        configure(whitelist_mode=True)
    # A reader that read the row before the commit stores it only where nothing is.
    cache.add(runtime.CACHE_KEY, old, runtime.CACHE_SECONDS)
    runtime._memo = None
    assert runtime.current().whitelist_mode


def test_a_cache_that_is_down_falls_back_to_the_database(monkeypatch, clock, caplog):
    configure(whitelist_mode=True)

    monkeypatch.setattr(runtime, "cache", DownCache())
    runtime._memo = None
    rules, count = queries_of(runtime.current)
    assert rules.whitelist_mode and count == 1
    assert "the cache did not answer" in caplog.text
    _, count = queries_of(runtime.current)  # still memoised: not a query per request
    assert count == 0


def test_lists_are_normalised_and_checked():
    row = SiteSettings(
        allowed_referers="https://Blog.Example.com/2026/post, *.friends.org\n.old.example\nfriends.org",
        upload_ip_blocklist="10.1.2.3/8\n203.0.113.7\n2001:DB8::/32",
        public_browse_folders="/albums/2026/\npublic",
        random_folders="*",
    )
    row.full_clean()
    assert row.allowed_referers == "blog.example.com\nfriends.org\nold.example"
    assert row.upload_ip_blocklist == "10.0.0.0/8\n203.0.113.7\n2001:db8::/32"
    assert row.public_browse_folders == "albums/2026\npublic"

    bad = SiteSettings(
        allowed_referers="exa mple.com",
        upload_ip_blocklist="10.0.0.300",
        public_browse_folders="a/../b",
        refusal="redirect",
    )
    with pytest.raises(ValidationError) as caught:
        bad.full_clean()
    errors = caught.value.message_dict
    assert "'exa mple.com' is not a host name" in errors["allowed_referers"][0]
    assert "'10.0.0.300' is not an IP address or a CIDR range" in errors["upload_ip_blocklist"][0]
    assert "may not contain '..'" in errors["public_browse_folders"][0]
    assert errors["placeholder_url"] == ["Redirecting needs a URL to redirect to."]


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://cdn.example.com/blocked.png", True),
        ("/static/blocked.png", True),
        ("/file/placeholder.png", False),  # would loop
        ("http://localhost/file/x.png", False),
        ("https://cdn.example.com/file/x.png", True),  # another site's /file/ is fine
        ("javascript:alert(1)", False),
        ("//evil.example/x.png", False),
    ],
)
def test_placeholder_urls(url, ok):
    row = SiteSettings(refusal="redirect", placeholder_url=url)
    if ok:
        row.full_clean()
    else:
        with pytest.raises(ValidationError):
            row.full_clean()


def test_one_row_only():
    SiteSettings(whitelist_mode=True).save()
    SiteSettings(random_enabled=True).save()
    assert SiteSettings.objects.count() == 1
    row = SiteSettings.objects.get()
    assert row.pk == SiteSettings.SINGLETON_PK and row.random_enabled and not row.whitelist_mode


def test_folder_rules():
    assert runtime.folder_allowed("", ())
    assert runtime.folder_allowed("anything/below", ("*",))
    allowed = ("albums", "shared/public")
    assert runtime.folder_allowed("albums", allowed)
    assert runtime.folder_allowed("albums/2026/june", allowed)
    assert not runtime.folder_allowed("albumsx", allowed)
    assert not runtime.folder_allowed("shared", allowed)
    assert not runtime.folder_allowed("", allowed)  # the top holds every folder
    rules = runtime.Runtime(public_browse_folders=allowed, random_folders=())
    assert rules.browse_allows("shared/public/x") and not rules.browse_allows("private")
    assert rules.random_allows("private")


# --- the admin page ---------------------------------------------------------------------------


def form_data(**overrides):
    data = {
        "allowed_referers": "",
        "refusal": "placeholder",
        "placeholder_url": "",
        "upload_ip_blocklist": "",
        "public_browse_folders": "",
        "random_folders": "",
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not False}


def test_the_admin_lists_one_page_for_the_settings(staff_client):
    index = staff_client.get("/admin/")
    assert b"Site settings" in index.content
    response = staff_client.get("/admin/imgbed_site/sitesettings/")
    assert response.status_code == 302 and response["Location"] == CHANGE_URL
    page = staff_client.get(CHANGE_URL, REMOTE_ADDR="198.51.100.4")
    assert page.status_code == 200
    text = page.content.decode()
    for label in (
        "Allowed referer hosts",
        "Refuse requests without a Referer",
        "Whitelist mode",
        "When a file is refused",
        "Upload IP block-list",
        "Public browsing",
        "Random image API",
    ):
        assert label in text, label
    assert "Your own address, as this site sees it: 198.51.100.4." in text
    assert "Delete" not in text and "Save and add another" not in text


def test_no_adding_or_deleting(staff_client):
    SiteSettings.load()
    assert staff_client.get("/admin/imgbed_site/sitesettings/add/").status_code == 403
    assert (
        staff_client.get(f"/admin/imgbed_site/sitesettings/{SiteSettings.SINGLETON_PK}/delete/").status_code
        == 403
    )
    assert staff_client.get("/admin/imgbed_site/sitesettings/2/change/").status_code == 302  # not there: back


def test_saving_in_the_admin_applies_to_the_next_request(staff_client, django_capture_on_commit_callbacks):
    staff_client.get(CHANGE_URL)
    assert not runtime.current().whitelist_mode
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            CHANGE_URL,
            form_data(
                whitelist_mode="on",
                allowed_referers="blog.example.com",
                upload_ip_blocklist="203.0.113.0/24",
                refusal="redirect",
                placeholder_url="https://cdn.example.com/no.png",
            ),
            follow=True,
        )
    assert response.status_code == 200
    bound = "2 seconds" if runtime.shared_cache() else "62 seconds"
    assert f"Saved. This process applies it now, every other web process within {bound}" in (
        response.content.decode()
    )
    rules = runtime.current()
    assert rules.whitelist_mode and rules.allowed_referers == ("blog.example.com",)
    assert rules.redirects and rules.placeholder_url == "https://cdn.example.com/no.png"
    import ipaddress

    assert rules.upload_blocked(ipaddress.ip_address("203.0.113.77"))
    assert cache.get(runtime.CACHE_KEY)["whitelist_mode"] is True  # what other processes read


def test_the_admin_refuses_bad_entries_in_words(staff_client):
    response = staff_client.post(CHANGE_URL, form_data(upload_ip_blocklist="10.0.0.1\nmy laptop"))
    assert response.status_code == 200
    assert "is not an IP address or a CIDR range" in response.content.decode()
    assert not runtime.current().upload_blocklist


# --- across processes -------------------------------------------------------------------------

_READER = """
import json, os, sys
import django
from django.conf import settings
django.setup()
# CACHE_URL has no way to give a key prefix: set before the cache is first used.
settings.CACHES["default"]["KEY_PREFIX"] = os.environ["TEST_CACHE_PREFIX"]
from django.db import connection
from django.test.utils import CaptureQueriesContext
from imgbed_site import runtime
print("ready", flush=True)
for line in sys.stdin:
    with CaptureQueriesContext(connection) as queries:
        rules = runtime.current()
    print(json.dumps({"whitelist_mode": rules.whitelist_mode, "queries": len(queries)}), flush=True)
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="needs Redis for a cache shared between processes (set CELERY_BROKER_URL=redis://...)",
)
def test_a_save_in_the_admin_reaches_another_process(settings, staff_client):
    from tests.worker import database_url

    location = settings.CELERY_BROKER_URL.split("?", 1)[0]
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        }
    }
    runtime.forget()
    env = {
        **__import__("os").environ,
        "DJANGO_SETTINGS_MODULE": "imgbed_site.settings",
        "DATABASE_URL": database_url(),
        "CACHE_URL": location,
        "TEST_CACHE_PREFIX": prefix,
        "IMGBED_DATA_DIR": str(settings.DATA_DIR),
        "SECRET_KEY": settings.SECRET_KEY,
        "IMGBED_ENCRYPTION_KEYS": ",".join(settings.IMGBED_ENCRYPTION_KEYS),
    }
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready"

        def ask():
            reader.stdin.write("?\n")
            reader.stdin.flush()
            return json.loads(reader.stdout.readline())

        assert ask()["whitelist_mode"] is False
        response = staff_client.post(CHANGE_URL, form_data(whitelist_mode="on"))
        assert response.status_code == 302
        saved = time.monotonic()
        while not (answer := ask())["whitelist_mode"]:
            assert time.monotonic() - saved < runtime.MEMO_SECONDS + 3, "the other process never followed"
            time.sleep(0.05)
        assert time.monotonic() - saved <= runtime.MEMO_SECONDS + 1
        assert answer["queries"] == 0  # it came from the shared cache
        page = staff_client.get(CHANGE_URL).content.decode()
        assert "every other web process within 2 seconds." in page
    finally:
        reader.stdin.close()
        reader.wait(10)
        cache.delete(runtime.CACHE_KEY)
