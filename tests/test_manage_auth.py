"""Who may call the management API: each route's permission allowed and refused, tokens as
`Bearer <t>` or bare, staff sessions with CSRF for changes, and 401 / 403 / 405 as JSON."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from tests.channels import local_channel
from tests.manage_support import CODE, PERMISSIONS, add_file, bearer, token, upload_code
from uploads.models import ApiToken, StoredFile

pytestmark = pytest.mark.django_db

FILE = "a/x.png"
# Every route, with a request its permission allows: (method, path, permission, JSON body).
ROUTES = [
    ("get", "/api/manage/list", "list", None),
    ("get", "/api/manage/list?dir=a&recursive=true", "list", None),
    ("delete", f"/api/manage/delete/{FILE}", "delete", None),
    ("post", "/api/manage/delete/a?folder=true", "delete", None),
    ("post", f"/api/manage/move/{FILE}?dist=b", "manage", None),
    ("post", "/api/manage/move/a?dist=b&folder=true", "manage", None),
    ("post", f"/api/manage/rename/{FILE}", "manage", {"newFileId": "a/y.png"}),
    ("patch", f"/api/manage/metadata/{FILE}", "manage", {"FileName": "new.png"}),
    ("get", f"/api/manage/tags/{FILE}", "manage", None),
    ("post", f"/api/manage/tags/{FILE}", "manage", {"action": "add", "tags": ["cat"]}),
    ("post", "/api/manage/tags/batch", "manage", {"fileIds": [FILE], "action": "add", "tags": ["cat"]}),
    ("get", "/api/manage/tags/autocomplete?prefix=c", "manage", None),
    ("post", f"/api/manage/block/{FILE}", "manage", None),
    ("post", f"/api/manage/white/{FILE}", "manage", None),
    ("post", f"/api/manage/normal/{FILE}", "manage", None),
    ("get", "/api/manage/quota", "manage", None),
    ("post", "/api/manage/quota", "manage", None),
]
IDS = [f"{method} {path}" for method, path, _, _ in ROUTES]


@pytest.fixture
def channel(tmp_path):
    return local_channel(tmp_path, health="connected")


@pytest.fixture
def files(channel):
    return [add_file(channel, FILE), add_file(channel, "a/z.png")]


def call(client, method, path, body=None, **headers):
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json", **headers)


def assert_refused(response, status, phrase):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    assert phrase in body["error"], body
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_without_credentials_401(client, files, method, path, permission, body):
    assert_refused(call(client, method, path, body), 401, "API token")
    assert StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == 2


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_a_wrong_or_expired_token_401(client, files, method, path, permission, body):
    assert_refused(call(client, method, path, body, **bearer("imgbed_nope")), 401, "not valid or has expired")
    old = token(*PERMISSIONS, expires_at=timezone.now())
    assert_refused(call(client, method, path, body, **bearer(old)), 401, "not valid or has expired")


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_a_token_without_the_routes_permission_403(client, files, method, path, permission, body):
    others = token(*(p for p in PERMISSIONS if p != permission))
    response = call(client, method, path, body, **bearer(others))
    assert_refused(response, 403, f"give it the {permission} permission")
    assert StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == 2
    assert not StoredFile.objects.exclude(list_type="None").exists()


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_a_token_with_the_routes_permission_alone_is_let_in(client, files, method, path, permission, body):
    response = call(client, method, path, body, **bearer(token(permission)))
    assert response.status_code == 200, response.content
    assert response.json()["success"] is True if "success" in response.json() else True
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_the_bare_token_as_the_header_value(client, files, method, path, permission, body):
    response = call(client, method, path, body, HTTP_AUTHORIZATION=token(permission))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_an_auth_code_may_only_upload(client, files, method, path, permission, body):
    upload_code()
    assert_refused(call(client, method, path, body, HTTP_AUTHCODE=CODE), 403, "may only upload")


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_a_signed_in_user_who_is_not_staff_403(files, django_user_model, method, path, permission, body):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    browser.get("/")  # the CSRF cookie
    headers = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}
    assert_refused(call(browser, method, path, body, **headers), 403, "Only staff")


def staff_browser(django_user_model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    browser.get("/")
    return browser, {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_staff_sessions_with_the_csrf_header(files, django_user_model, method, path, permission, body):
    browser, csrf = staff_browser(django_user_model)
    response = call(browser, method, path, body, **csrf)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_staff_sessions_read_without_csrf_but_never_change_without_it(
    files, django_user_model, method, path, permission, body
):
    browser, _ = staff_browser(django_user_model)
    response = call(browser, method, path, body)
    if method == "get":
        assert response.status_code == 200, response.content
    else:
        assert_refused(response, 401, "X-CSRFToken")
        assert StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == 2


@pytest.mark.parametrize("route", ["block", "white", "normal", "move", "delete"])
def test_a_get_that_changes_files_needs_csrf_from_a_session(files, django_user_model, route):
    """ImgBed answers these on any method; a cross-site <img src> must not block or delete with a cookie."""
    browser, csrf = staff_browser(django_user_model)
    query = "?dist=b" if route == "move" else ""
    assert_refused(browser.get(f"/api/manage/{route}/{FILE}{query}"), 401, "X-CSRFToken")
    row = StoredFile.objects.get(pk=files[0].pk)
    assert (row.public_id, row.list_type, row.status) == (FILE, "None", StoredFile.Status.STORED)
    assert browser.get(f"/api/manage/{route}/{FILE}{query}", **csrf).status_code == 200
    # Token clients may use any method, as with ImgBed.
    assert call(Client(), "get", "/api/manage/block/a/z.png", **bearer(token("manage"))).status_code == 200


def test_the_route_decides_the_permission_not_the_words_in_the_path(client, channel):
    """ImgBed asks for `delete` when an id has a delete segment; here the route alone decides."""
    add_file(channel, "delete/list/x.png")
    add_file(channel, "list/y.png")
    list_and_delete = bearer(token("list", "delete"))
    refused = client.post("/api/manage/move/delete/list/x.png?dist=moved", **list_and_delete)
    assert_refused(refused, 403, "manage permission")
    moved = client.post("/api/manage/move/delete/list/x.png?dist=moved", **bearer(token("manage")))
    assert moved.json() == {"success": True, "fileId": "delete/list/x.png", "newFileId": "moved/x.png"}
    assert_refused(client.delete("/api/manage/delete/list/y.png", **bearer(token("list"))), 403, "delete")
    assert client.delete("/api/manage/delete/list/y.png", **bearer(token("delete"))).status_code == 200
    listed = client.get("/api/manage/list?dir=delete", **bearer(token("delete", "manage")))
    assert_refused(listed, 403, "list permission")


@pytest.mark.parametrize("method, path, permission, body", ROUTES, ids=IDS)
def test_preflight_needs_no_credentials(client, method, path, permission, body):
    response = client.options(path)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "PATCH" in response["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("put", "/api/manage/list", "GET, HEAD, OPTIONS"),
        ("get", f"/api/manage/rename/{FILE}", "POST, OPTIONS"),
        ("post", f"/api/manage/metadata/{FILE}", "PATCH, OPTIONS"),
        ("delete", f"/api/manage/tags/{FILE}", "GET, POST, OPTIONS"),
        ("get", "/api/manage/tags/batch", "POST, OPTIONS"),
        ("post", "/api/manage/tags/autocomplete", "GET, OPTIONS"),
        ("delete", "/api/manage/quota", "GET, POST, OPTIONS"),
    ],
)
def test_other_methods_405(client, files, method, path, allowed):
    response = getattr(client, method)(path, **bearer(token(*PERMISSIONS)))
    assert response.status_code == 405
    assert response["Allow"] == allowed
    body = response.json()
    assert body["success"] is False and body["error"].startswith("Use ")


def test_a_failure_inside_is_a_500_in_json_without_a_trace(client, files, monkeypatch):
    def broken(query):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("library.listing.respond", broken)
    response = client.get("/api/manage/list", **bearer(token("list")))
    assert response.status_code == 500
    assert response.json() == {
        "success": False,
        "error": "The server failed to do this; the error is in its log.",
    }
    assert b"secret internals" not in response.content and b"Traceback" not in response.content


def test_uploads_still_take_bearer_and_bare_tokens_and_basic_is_not_a_token(client, channel):
    from tests.files import png
    from tests.manage_support import upload_and_store

    upload_code()
    upload_and_store(client, png(100))  # the auth code path is unchanged
    from django.core.files.uploadedfile import SimpleUploadedFile

    def post(**headers):
        return client.post("/upload", {"file": SimpleUploadedFile("a.png", png(100))}, **headers)

    assert post(**bearer(token("upload"))).status_code == 200
    assert post(HTTP_AUTHORIZATION=token("upload")).status_code == 200
    assert post(HTTP_AUTHORIZATION=token("list")).status_code == 403
    # Another scheme is not taken for a token: without a code it is simply not signed in.
    assert post(HTTP_AUTHORIZATION="Basic dXNlcjpwdw==").status_code == 401


def test_the_admin_grants_the_manage_permission(admin_client):
    form = admin_client.get("/admin/uploads/apitoken/add/").content.decode()
    assert 'name="can_manage"' in form
    response = admin_client.post("/admin/uploads/apitoken/add/", {"name": "organiser", "can_manage": "on"})
    assert response.status_code == 200
    row = ApiToken.objects.get()
    assert row.can_manage and not row.can_list and not row.can_delete
    assert "Manage" in admin_client.get("/admin/uploads/apitoken/").content.decode()
    assert ApiToken(name="new").can_manage is False  # not granted unless ticked
