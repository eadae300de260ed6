"""Hostile credentials on every route of the site, taken from its URLconf: each route is listed
here as public, upload, management (with its permission), staff or admin, so a new route that
nobody classified fails the first test. Then wrong, missing, expired and revoked API tokens and
auth codes on each route that needs one; repeated failures from one address answered 429 with
Retry-After; and staff-only pages refused to visitors.

The management API's own matrix (missing, wrong, expired, a token without the route's
permission, an auth code) is in test_manage_auth.py; this adds what it lacks."""

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from tests.caches import DownCache
from tests.channels import local_channel
from tests.files import png
from tests.manage_support import CODE, PERMISSIONS, add_file, bearer, token, upload_code
from tests.test_manage_auth import ROUTES as MANAGE_ROUTES
from uploads import throttle
from uploads.models import ApiToken, StoredFile, UploadCode

pytestmark = pytest.mark.django_db

# Routes anyone may call, with or without credentials (the public side is off until staff turn it on).
PUBLIC = {"home", "api_channels", "file", "random", "public_list", "browse", "browse_folder"}
UPLOAD = {"upload"}
# Staff signed in to the admin, through the OAuth views' own checks (not admin_view).
STAFF = {"onedrive_oauth_start", "onedrive_oauth_callback", "onedrive_oauth_save"}
# Admin pages outside admin.site.urls, wrapped in admin_view; and the admin's own login form.
ADMIN = {"ops", "ops_retry", "backup_download", "admin_login_limited"}
MANAGE = {resolve(path.split("?")[0]).url_name: permission for _, path, permission, _ in MANAGE_ROUTES}


def site_routes(patterns=None, prefix=""):
    """(route, name, namespace) for every pattern the site answers, admin.site.urls included."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from (
                (route, name, entry.namespace or namespace)
                for route, name, namespace in site_routes(entry.url_patterns, prefix + str(entry.pattern))
            )
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name, None


def test_every_route_of_the_site_is_classified():
    outside_admin = {name for route, name, namespace in site_routes() if namespace != "admin"}
    unclassified = outside_admin - PUBLIC - UPLOAD - STAFF - ADMIN - set(MANAGE)
    assert not unclassified, f"say who may call {sorted(unclassified)} in this file and test it"
    assert None not in outside_admin, "a route without a name cannot be classified"
    # Every management route is in test_manage_auth's matrix, with the permission it needs.
    manage_urls = {name for route, name, _ in site_routes() if route.startswith("api/manage/")}
    assert manage_urls == set(MANAGE)
    assert MANAGE["manage_list"] == "list" and MANAGE["api_delete"] == "delete"
    assert {p for n, p in MANAGE.items() if n not in ("manage_list", "api_delete")} == {"manage"}


# --- credentials that are wrong, expired or revoked, on every route that needs one ---------------


@pytest.fixture
def channel(tmp_path):
    return local_channel(tmp_path, health="connected")


@pytest.fixture
def files(channel):
    return [add_file(channel, "a/x.png"), add_file(channel, "a/z.png")]


def call(client, method, path, body=None, **headers):
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json", **headers)


def upload(client, query="", **headers):
    return client.post(f"/upload?{query}", {"file": SimpleUploadedFile("a.png", png(200))}, **headers)


# Every route that needs a credential: (id, send(client, **headers), permission).
NEEDING = [("POST /upload", lambda c, **h: upload(c, **h), "upload")] + [
    (f"{method} {path}", lambda c, m=method, p=path, b=body, **h: call(c, m, p, b, **h), permission)
    for method, path, permission, body in MANAGE_ROUTES
]
NEEDING_IDS = [name for name, _, _ in NEEDING]


def test_every_route_needing_a_credential_is_in_the_matrix():
    assert {resolve(name.split(" ", 1)[1].split("?")[0]).url_name for name in NEEDING_IDS} == UPLOAD | set(
        MANAGE
    )


def assert_401(response, phrase):
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert phrase in body["error"], body
    assert "Retry-After" not in response


def nothing_changed(files):
    assert StoredFile.objects.count() == 2
    for before in files:
        row = StoredFile.objects.get(pk=before.pk)
        assert (row.public_id, row.status, row.list_type) == (before.public_id, "stored", "None")


@pytest.mark.parametrize("name, send, permission", NEEDING, ids=NEEDING_IDS)
def test_a_revoked_token_is_refused_like_a_wrong_one(client, files, name, send, permission):
    """Staff revoke a token by deleting it in the admin; its holder gets a 401 that says what to do."""
    value = token(*PERMISSIONS)
    ApiToken.objects.all().delete()
    assert_401(send(client, **bearer(value)), "not valid or has expired. Create a new one in the admin")
    nothing_changed(files)


@pytest.mark.parametrize("name, send, permission", NEEDING, ids=NEEDING_IDS)
def test_a_token_that_expired_a_moment_ago(client, files, name, send, permission):
    value = token(*PERMISSIONS, expires_at=timezone.now() + timezone.timedelta(milliseconds=1))
    ApiToken.objects.update(expires_at=timezone.now())  # the moment has come
    assert_401(send(client, HTTP_AUTHORIZATION=value), "not valid or has expired")
    nothing_changed(files)


@pytest.mark.parametrize("name, send, permission", NEEDING, ids=NEEDING_IDS)
@pytest.mark.parametrize("how", ["wrong", "disabled", "deleted", "query"])
def test_a_wrong_or_revoked_auth_code(client, files, name, send, permission, how):
    """An auth code has no expiry: staff revoke it by unticking Enabled or deleting it."""
    code = upload_code()
    headers = {"HTTP_AUTHCODE": "not-" + CODE}
    if how == "disabled":
        UploadCode.objects.filter(pk=code.pk).update(enabled=False)
        headers = {"HTTP_AUTHCODE": CODE}
    elif how == "deleted":
        code.delete()
        headers = {"HTTP_AUTHCODE": CODE}
    if how == "query":
        method, path = name.split(" ", 1)
        sep = "&" if "?" in path else "?"
        if path == "/upload":
            response = upload(client, query="authCode=nope")
        else:
            response = call(client, method.lower(), f"{path}{sep}authCode=nope", None)
    else:
        response = send(client, **headers)
    assert_401(response, "The auth code is wrong. Ask the site's staff for the current code.")
    nothing_changed(files)


@pytest.mark.parametrize("name, send, permission", NEEDING, ids=NEEDING_IDS)
def test_a_token_without_the_permission_403_names_the_permission(client, files, name, send, permission):
    others = token(*(p for p in PERMISSIONS if p != permission))
    response = send(client, **bearer(others))
    assert response.status_code == 403, response.content
    assert permission in response.json()["error"]
    nothing_changed(files)


@pytest.mark.parametrize("route", sorted(PUBLIC - {"file", "browse_folder"}))
def test_public_routes_never_ask_for_a_credential_and_ignore_a_wrong_one(client, files, route):
    """A bogus token sent to a public route is not an error (and is not counted as a guess)."""
    path = {
        "home": "/",
        "api_channels": "/api/channels",
        "random": "/random",
        "public_list": "/api/public/list",
        "browse": "/browse/",
    }[route]
    plain = client.get(path)
    with_garbage = client.get(path, **bearer("imgbed_garbage"), HTTP_AUTHCODE="garbage")
    assert plain.status_code == with_garbage.status_code
    assert plain.status_code not in (401, 429, 500)


def test_the_file_route_needs_no_credential(client, channel):
    """GET /file/<id> is public by design (links are handed out); a wrong token changes nothing."""
    response = client.get("/file/no/such.png", **bearer("imgbed_garbage"))
    assert response.status_code == 404


# --- repeated failures from one address ------------------------------------------------------------


@pytest.fixture
def limit(settings):
    settings.IMGBED_AUTH_FAILURE_LIMIT = 3
    settings.IMGBED_AUTH_FAILURE_WINDOW = 600
    return 3


def assert_429(response):
    assert response.status_code == 429, response.content
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= 600
    error = response.json()["error"]
    assert f"Wait {seconds} seconds" in error and "right API token, auth code or password" in error
    return seconds


def test_the_default_limit_is_20_wrong_tokens_in_ten_minutes(client, channel, settings):
    assert (settings.IMGBED_AUTH_FAILURE_LIMIT, settings.IMGBED_AUTH_FAILURE_WINDOW) == (20, 600)
    for _ in range(20):
        assert upload(client, **bearer("imgbed_guess")).status_code == 401
    assert_429(upload(client, **bearer("imgbed_guess")))


def test_once_limited_even_the_right_token_is_not_let_in(client, files, limit):
    right = token("list", "upload")
    for _ in range(limit):
        assert upload(client, **bearer("imgbed_guess")).status_code == 401
    assert_429(upload(client, **bearer(right)))
    assert_429(client.get("/api/manage/list", **bearer(right)))
    assert StoredFile.objects.count() == 2
    assert ApiToken.objects.get().last_used_at is None  # not even looked up


def test_wrong_codes_and_tokens_on_any_route_add_up(client, files, limit):
    upload_code()
    assert upload(client, HTTP_AUTHCODE="nope").status_code == 401
    assert client.get("/api/manage/list", **bearer("imgbed_guess")).status_code == 401
    assert client.post("/api/manage/block/a/x.png?authCode=nope").status_code == 401
    assert_429(upload(client, HTTP_AUTHCODE=CODE))
    assert_429(client.get("/api/manage/list", HTTP_AUTHCODE=CODE))


def test_a_success_resets_nothing(client, files, limit):
    right = token("list")
    for _ in range(limit - 1):
        assert client.get("/api/manage/list", **bearer("imgbed_guess")).status_code == 401
    assert client.get("/api/manage/list", **bearer(right)).status_code == 200
    assert client.get("/api/manage/list", **bearer("imgbed_guess")).status_code == 401
    assert_429(client.get("/api/manage/list", **bearer(right)))


def test_other_addresses_are_not_limited(client, files, limit):
    right = token("list")
    for _ in range(limit):
        client.get("/api/manage/list", **bearer("imgbed_guess"))
    assert_429(client.get("/api/manage/list", **bearer(right)))
    assert client.get("/api/manage/list", **bearer(right), REMOTE_ADDR="192.0.2.7").status_code == 200


def test_an_ipv6_client_is_counted_by_its_64_block(client, files, limit):
    """A home or a server gets a /64: changing the address inside it is no way round the limit."""
    right = token("list")
    for host in range(limit):
        wrong = client.get(
            "/api/manage/list", **bearer("imgbed_guess"), REMOTE_ADDR=f"2001:db8:1:2::{host + 1:x}"
        )
        assert wrong.status_code == 401
    assert_429(client.get("/api/manage/list", **bearer(right), REMOTE_ADDR="2001:db8:1:2:ffff::9"))
    elsewhere = client.get("/api/manage/list", **bearer(right), REMOTE_ADDR="2001:db8:1:3::1")
    assert elsewhere.status_code == 200


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(client, files, limit, settings):
    settings.IMGBED_TRUSTED_PROXIES = ["10.0.0.1"]
    right = token("list")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for _ in range(limit):
        client.get("/api/manage/list", **bearer("imgbed_guess"), HTTP_X_FORWARDED_FOR="198.51.100.9", **proxy)
    assert_429(client.get("/api/manage/list", **bearer(right), HTTP_X_FORWARDED_FOR="198.51.100.9", **proxy))
    # A forged header to the left of the proxy's own entry does not escape the count.
    forged = client.get(
        "/api/manage/list", **bearer(right), HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.9", **proxy
    )
    assert_429(forged)
    other = client.get("/api/manage/list", **bearer(right), HTTP_X_FORWARDED_FOR="198.51.100.10", **proxy)
    assert other.status_code == 200


def test_requests_without_a_credential_are_not_counted_nor_limited(client, files, limit, django_user_model):
    for _ in range(limit * 2):
        assert client.get("/api/manage/list").status_code == 401
    assert client.get("/api/manage/list", **bearer(token("list"))).status_code == 200
    for _ in range(limit):
        client.get("/api/manage/list", **bearer("imgbed_guess"))
    # A staff session from the same address still works: it sends no credential to guess.
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    assert client.get("/api/manage/list").status_code == 200
    # So do the public routes.
    assert client.get("/api/channels").status_code == 200


def test_a_token_without_permission_is_no_guess(client, files, limit):
    weak = token("upload")
    for _ in range(limit * 2):
        assert client.get("/api/manage/list", **bearer(weak)).status_code == 403
    assert client.get("/api/manage/list", **bearer(token("list"))).status_code == 200


class _Clock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


def test_a_limit_of_0_turns_it_off(client, files, settings):
    settings.IMGBED_AUTH_FAILURE_LIMIT = 0
    for _ in range(25):
        assert client.get("/api/manage/list", **bearer("imgbed_guess")).status_code == 401
    assert client.get("/api/manage/list", **bearer(token("list"))).status_code == 200


def test_the_limit_lifts_when_the_window_ends(client, files, limit, monkeypatch):
    clock = _Clock(throttle.time.time())
    monkeypatch.setattr(throttle, "time", clock)
    right = token("list")
    for _ in range(limit):
        client.get("/api/manage/list", **bearer("imgbed_guess"))
    clock.now += 100
    assert assert_429(client.get("/api/manage/list", **bearer(right))) == 500
    clock.now += 500
    assert client.get("/api/manage/list", **bearer(right)).status_code == 200
    # A new window: one more wrong guess is not yet a lock-out.
    assert client.get("/api/manage/list", **bearer("imgbed_guess")).status_code == 401
    assert client.get("/api/manage/list", **bearer(right)).status_code == 200


def test_a_cache_that_does_not_answer_lets_credentials_through(client, files, limit, monkeypatch, caplog):
    monkeypatch.setattr(throttle, "cache", DownCache())
    for _ in range(limit + 1):
        assert client.get("/api/manage/list", **bearer("imgbed_guess")).status_code == 401
    assert client.get("/api/manage/list", **bearer(token("list"))).status_code == 200
    assert "the cache did not answer" in caplog.text


def test_guesses_sent_all_at_once_each_count(limit, settings):
    """Fifty wrong guesses arriving together are fifty failures, not one per moment."""
    import threading

    from django.test import RequestFactory

    settings.IMGBED_AUTH_FAILURE_LIMIT = 50
    request = RequestFactory().get("/upload", REMOTE_ADDR="192.0.2.50")
    start = threading.Barrier(50)

    def guess():
        start.wait()
        throttle.failed(request)

    threads = [threading.Thread(target=guess) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert throttle.retry_after(request) is not None
    settings.IMGBED_AUTH_FAILURE_LIMIT = 51
    assert throttle.retry_after(request) is None


def test_the_upload_page_shows_the_429_in_words(client, channel, limit):
    """The page's script shows the JSON error of any refusal: the 429's says how long to wait."""
    for _ in range(limit):
        upload(client, HTTP_AUTHCODE="nope")
    response = upload(client, HTTP_AUTHCODE="nope")
    assert_429(response)
    assert response["Access-Control-Allow-Origin"] == "*"  # a cross-site client can read why


# --- the admin's sign-in ---------------------------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("boss", password="right-password", is_staff=True)


def sign_in(client, password, **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": "boss", "password": password, "next": "/admin/"}, **extra
    )


def test_admin_sign_in_is_limited_the_same_way(staff, limit):
    browser = Client()
    for _ in range(limit):
        page = sign_in(browser, "guess")
        assert page.status_code == 200 and "Please enter the correct username and password" in page.text
    refused = sign_in(browser, "right-password")
    assert refused.status_code == 429
    seconds = int(refused["Retry-After"])
    assert f"Wait {seconds} seconds" in refused.text and 'id="too-many-failures"' in refused.text
    assert "_auth_user_id" not in browser.session
    assert browser.get("/admin/").status_code == 302  # not signed in
    # The form itself still shows, and another address signs in.
    assert browser.get("/admin/login/").status_code == 200
    other = Client(REMOTE_ADDR="192.0.2.8")
    assert sign_in(other, "right-password").status_code == 302
    assert other.get("/admin/").status_code == 200


def test_wrong_passwords_and_wrong_tokens_share_the_count(client, staff, files, limit):
    for _ in range(limit - 1):
        sign_in(client, "guess")
    assert client.get("/api/manage/list", **bearer("imgbed_guess")).status_code == 401
    assert sign_in(client, "right-password").status_code == 429


# --- staff-only pages ------------------------------------------------------------------------------


@pytest.fixture
def visitor(django_user_model):
    browser = Client()
    browser.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    return browser


def sample_path(route: str) -> str:
    """A concrete path for an admin route: `1` for each argument; for a regex group of
    alternatives (the app list) its first one, for any other group (the catch-all) a word."""

    def group(match):
        first = match.group(1).split("|")[0]
        return first if re.fullmatch(r"\w+", first) else "anything"

    path = re.sub(r"\(\?P<\w+>([^)]*)\)", group, route).replace("^", "").replace("$", "")
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "1", path)


def admin_paths():
    skip = {"login", "logout", "admin_login_limited"}  # the sign-in form is for everyone; logout is POST
    found = []
    for route, name, _ in site_routes():
        if route.startswith("admin/") and name not in skip:
            found.append((name or route, sample_path(route)))
    return found


ADMIN_PATHS = admin_paths()


def test_the_admin_routes_are_all_enumerated():
    names = {name for name, _ in ADMIN_PATHS}
    assert {"index", "ops", "ops_retry", "backup_download", "password_change"} <= names
    for model in admin.site._registry:
        meta = model._meta
        assert f"{meta.app_label}_{meta.model_name}_changelist" in names


@pytest.mark.parametrize("name, path", ADMIN_PATHS, ids=[n for n, _ in ADMIN_PATHS])
def test_every_admin_page_sends_visitors_and_non_staff_to_the_sign_in(client, visitor, name, path):
    for who in (client, visitor):
        for method in ("get", "post"):
            response = getattr(who, method)(path)
            assert response.status_code == 302, (name, path, method, response.status_code)
            assert response["Location"].startswith("/admin/login/?next="), response["Location"]


def test_non_staff_are_told_they_are_not_authorised_on_the_sign_in_form(visitor):
    page = visitor.get("/admin/operations/", follow=True)
    assert "You are authenticated as visitor, but are not authorized to access this page" in page.text


def test_the_flower_link_is_only_on_the_staff_operations_page(client, visitor, django_user_model, settings):
    settings.FLOWER_URL = "https://ops.example.com/flower/"
    for who in (client, visitor):
        for path in ("/", "/admin/operations/", "/admin/login/", "/browse/"):
            assert settings.FLOWER_URL not in who.get(path, follow=True).text
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    assert f'href="{settings.FLOWER_URL}"' in staff.get("/admin/operations/").text


@pytest.mark.parametrize("who", ["anonymous", "visitor", "inactive staff"])
def test_the_oauth_views_refuse_anyone_but_staff(client, visitor, django_user_model, who):
    browser = {"anonymous": client, "visitor": visitor}.get(who)
    if browser is None:
        browser = Client()
        # A staff member deactivated after signing in: the session no longer counts.
        user = django_user_model.objects.create_user("gone", password="pw", is_staff=True)
        browser.force_login(user)
        django_user_model.objects.filter(pk=user.pk).update(is_active=False)
    start = browser.post("/api/oauth/onedrive/start", {"client_id": "x", "client_secret": "y"})
    assert start.status_code == 302 and start["Location"].startswith("/admin/login/")
    save = browser.post("/api/oauth/onedrive/save", {"key": "x"})
    assert save.status_code == 302 and save["Location"].startswith("/admin/login/")
    back = browser.get("/api/oauth/onedrive/callback?code=abc&state=xyz")
    assert back.status_code == 403
    assert "Sign in to the admin first" in back.text and "Get Token again" in back.text


_GUESSER = """
import os, sys
import django
from django.conf import settings
django.setup()
from django.test import RequestFactory
from uploads import throttle
throttle.KEY = os.environ["TEST_THROTTLE_KEY"]
request = RequestFactory().get("/api/manage/list", REMOTE_ADDR="192.0.2.44")
for _ in range(int(sys.argv[1])):
    throttle.failed(request)
print("counted", flush=True)
"""


@pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="needs Redis for a cache shared between processes (set CELERY_BROKER_URL=redis://...)",
)
def test_with_redis_the_count_is_shared_by_every_web_process(client, files, limit, settings):
    """Failures counted by one process lock the address out in another (CACHE_URL=redis://...)."""
    location = settings.CELERY_BROKER_URL.split("?", 1)[0]
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        }
    }
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "imgbed_site.settings",
        "CACHE_URL": location,
        "TEST_THROTTLE_KEY": throttle.KEY,
        "IMGBED_AUTH_FAILURE_LIMIT": str(limit),
    }
    # CACHE_URL cannot carry a key prefix: the child sets the same one before its first use.
    script = _GUESSER.replace(
        "django.setup()\n", f'django.setup()\nsettings.CACHES["default"]["KEY_PREFIX"] = "{prefix}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(limit)],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "counted", done.stderr
    right = token("list")
    assert_429(client.get("/api/manage/list", **bearer(right), REMOTE_ADDR="192.0.2.44"))
    assert client.get("/api/manage/list", **bearer(right)).status_code == 200
