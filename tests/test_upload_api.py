"""POST /upload as ImgBed clients speak it, and every bad input it must refuse."""

import json
import os
from pathlib import Path

import pytest
from django.conf import settings

from channels.models import Channel
from tests.files import HTML_PAGE, SVG, png
from uploads.models import ApiToken, StoredFile, UploadCode

pytestmark = pytest.mark.django_db

CODE = "let-me-in"


@pytest.fixture
def onedrive(channel):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    return channel


@pytest.fixture
def code(db):
    row = UploadCode(label="friends")
    row.set_code(CODE)
    row.save()
    return row


def staged_files():
    root = Path(settings.STORAGES["staging"]["OPTIONS"]["location"])
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture(autouse=True)
def clean_staging():
    for path in staged_files():
        path.unlink()
    yield


def post(client, data=None, query="", name="small.png", field="file", **headers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {
        field: SimpleUploadedFile(name, data if data is not None else png(1000), content_type="image/png")
    }
    return client.post(f"/upload?{query}", files, **headers)


def assert_refused(response, status, phrase):
    assert response.status_code == status, response.content
    body = json.loads(response.content)
    assert phrase in body["error"], body
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not StoredFile.objects.exists()
    assert staged_files() == []


def test_picgo_web_uploader(client, onedrive, code):
    """PicGo's web-uploader: field `file`, authCode in the query, the link at `0.src`."""
    data = png(5000)
    response = post(client, data, query=f"authCode={CODE}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    src = body[0]["src"]  # jsonPath 0.src
    assert src.startswith("/file/") and src.endswith("_small.png")
    assert list(body[0]) == ["src"]
    served = client.get(src)
    assert b"".join(served.streaming_content) == data
    stored = StoredFile.objects.get()
    assert stored.status == StoredFile.Status.PENDING
    assert stored.size == len(data) and stored.content_type == "image/png"
    assert stored.upload_code == code
    assert stored.remote_path == f"imgbed/{stored.public_id}"


def test_sharex_full_url_and_bearer_token(client, onedrive):
    token_row = ApiToken(name="sharex")
    token = token_row.issue()
    token_row.save()
    response = post(client, query="returnFormat=full", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    src = json.loads(response.content)[0]["src"]
    assert src.startswith(settings.SITE_URL + "/file/")
    assert StoredFile.objects.get().api_token == token_row


def test_auth_code_header(client, onedrive, code):
    assert post(client, HTTP_AUTHCODE=CODE).status_code == 200


def test_name_types_and_folder(client, onedrive, code):
    def src(query, name="small.png"):
        response = post(client, query=f"authCode={CODE}&{query}", name=name)
        assert response.status_code == 200, response.content
        return json.loads(response.content)[0]["src"]

    assert src("uploadNameType=origin") == "/file/small.png"
    assert src("uploadNameType=origin") == "/file/small(1).png"
    assert src("uploadNameType=index").endswith(".png")
    short = src("uploadNameType=short").removeprefix("/file/")
    assert len(short) == len("QwGJGC41.png") and short.endswith(".png")
    assert src("uploadFolder=a/b&uploadNameType=origin") == "/file/a/b/small.png"
    assert src("uploadNameType=origin", name="../../my pic (1).png") == "/file/my_pic__1_.png"


def test_index_names_count_up(client, onedrive, code):
    def src():
        return json.loads(post(client, query=f"authCode={CODE}&uploadNameType=index").content)[0]["src"]

    assert [src(), src(), src()] == ["/file/1.png", "/file/2.png", "/file/3.png"]


def test_no_free_name_is_a_conflict_and_keeps_nothing(client, onedrive, code, monkeypatch):
    monkeypatch.setattr("uploads.naming._MAX_ATTEMPTS", 2)
    for expected in ("small.png", "small(1).png"):
        response = post(client, query=f"authCode={CODE}&uploadNameType=origin")
        assert json.loads(response.content)[0]["src"] == f"/file/{expected}"
    response = post(client, query=f"authCode={CODE}&uploadNameType=origin")
    assert response.status_code == 409
    assert "free name" in json.loads(response.content)["error"]
    assert StoredFile.objects.count() == 2
    assert len(staged_files()) == 2


def test_credentials_record_when_they_were_last_used(client, onedrive, code):
    assert code.last_used_at is None
    assert post(client, query=f"authCode={CODE}").status_code == 200
    code.refresh_from_db()
    assert code.last_used_at is not None


def test_preflight(client):
    response = client.options("/upload")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Allow-Headers"] == "Content-Type, Authorization, authCode"
    assert response["Access-Control-Allow-Methods"] == "POST, GET, OPTIONS"


def test_channels_listing_has_no_secrets(client, onedrive):
    body = client.get("/api/channels").json()
    assert body["onedrive"] == [{"name": onedrive.name, "type": "onedrive"}]


def test_missing_auth_code(client, onedrive, code):
    assert_refused(post(client), 401, "auth code")


def test_wrong_auth_code(client, onedrive, code):
    assert_refused(post(client, query="authCode=nope"), 401, "auth code is wrong")


def test_wrong_token(client, onedrive):
    assert_refused(post(client, HTTP_AUTHORIZATION="Bearer imgbed_nope"), 401, "API token is not valid")


def test_expired_token(client, onedrive):
    from django.utils import timezone

    row = ApiToken(name="old", expires_at=timezone.now())
    token = row.issue()
    row.save()
    assert_refused(post(client, HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "expired")


def test_token_without_upload_permission(client, onedrive):
    row = ApiToken(name="reader", can_upload=False, can_list=True)
    token = row.issue()
    row.save()
    assert_refused(post(client, HTTP_AUTHORIZATION=f"Bearer {token}"), 403, "may not upload")


def test_missing_file_field(client, onedrive, code):
    assert_refused(post(client, query=f"authCode={CODE}", field="image"), 400, "multipart field 'file'")


def test_not_multipart(client, onedrive, code):
    response = client.post(f"/upload?authCode={CODE}", data=png(10), content_type="image/png")
    assert_refused(response, 400, "multipart/form-data")


def test_empty_file(client, onedrive, code):
    assert_refused(post(client, b"", query=f"authCode={CODE}"), 400, "empty")


def test_too_large(client, onedrive, code, settings):
    settings.IMGBED_MAX_UPLOAD_SIZE = 100_000
    # Within the multipart slack, so the streaming check (not the header) refuses it.
    assert_refused(post(client, png(130_000), query=f"authCode={CODE}"), 413, "larger than this site's limit")


def test_too_large_is_refused_before_the_body_is_stored(client, onedrive, code, settings):
    """A declared length over the limit is refused unread; a lying one is cut off while streaming."""
    settings.IMGBED_MAX_UPLOAD_SIZE = 100_000
    response = client.generic(
        "POST",
        f"/upload?authCode={CODE}",
        b"--x\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(500_000_000),
    )
    assert_refused(response, 413, "larger")


def test_large_body_is_not_read_when_no_channel_could_take_it(client, onedrive, code):
    onedrive.enabled = False
    onedrive.save()
    # The body is a stub: had the view read it, it would answer "not valid multipart" (400).
    response = client.generic(
        "POST",
        f"/upload?authCode={CODE}",
        b"--x\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
    )
    assert_refused(response, 503, "No storage channel is available")


@pytest.mark.parametrize(
    "data, name, kind",
    [
        (HTML_PAGE, "innocent.png", "text/html"),
        (SVG, "logo.png", "image/svg+xml"),
        (os.urandom(3000), "x.jpg", ""),
    ],
)
def test_type_judged_by_bytes_not_name(client, onedrive, code, data, name, kind):
    response = post(client, data, name=name, query=f"authCode={CODE}")
    assert_refused(response, 415, kind or "application/octet-stream")


def test_no_enabled_channel(client, onedrive, code):
    onedrive.enabled = False
    onedrive.save()
    assert_refused(post(client, query=f"authCode={CODE}"), 503, "No storage channel is available")


def test_channel_needing_reauthorisation_is_not_chosen(client, onedrive, code):
    onedrive.health = Channel.Health.NEEDS_REAUTH
    onedrive.save()
    assert_refused(post(client, query=f"authCode={CODE}"), 503, "No storage channel")


def test_unknown_channel_kind(client, onedrive, code):
    assert_refused(
        post(client, query=f"authCode={CODE}&uploadChannel=telegram"), 400, "Unknown uploadChannel"
    )


def test_folder_traversal_refused(client, onedrive, code):
    assert_refused(post(client, query=f"authCode={CODE}&uploadFolder=../etc"), 400, "..")


@pytest.mark.parametrize(
    "hostile, expected",
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\boot.png", "boot.png"),
        ("a\x00b\x1f.png", "ab.png"),
        ("evil\u202egnp.png", "evilgnp.png"),
        ("100%.png", "100_.png"),
        ("ünï 图片.png", "ünï_图片.png"),
    ],
)
def test_hostile_names_are_normalised(client, onedrive, code, hostile, expected):
    response = post(client, name=hostile, query=f"authCode={CODE}&uploadNameType=origin")
    assert response.status_code == 200, response.content
    assert json.loads(response.content)[0]["src"] == f"/file/{expected}"


def test_very_long_name_is_trimmed(client, onedrive, code):
    response = post(client, name="a" * 1000 + ".png", query=f"authCode={CODE}&uploadNameType=origin")
    src = json.loads(response.content)[0]["src"]
    assert src.endswith(".png") and len(src) < 260


def test_delete_needs_the_delete_permission(client, onedrive, code):
    src = json.loads(post(client, query=f"authCode={CODE}").content)[0]["src"]
    public_id = src.removeprefix("/file/")
    uploader = ApiToken(name="up")
    up_token = uploader.issue()
    uploader.save()
    deleter = ApiToken(name="del", can_delete=True)
    del_token = deleter.issue()
    deleter.save()
    refused = client.delete(f"/api/manage/delete/{public_id}", HTTP_AUTHORIZATION=f"Bearer {up_token}")
    assert refused.status_code == 403
    assert (
        client.delete(f"/api/manage/delete/{public_id}", HTTP_AUTHORIZATION=f"Bearer {del_token}").status_code
        == 200
    )
    assert client.get(src).status_code == 404
    assert StoredFile.objects.get().status == StoredFile.Status.DELETED


def signed_in_client(django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user("reader", password="pw")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get("/")  # the upload page sets the CSRF cookie
    return browser, user


def test_signed_in_user_uploads_with_the_csrf_header(onedrive, django_user_model):
    browser, user = signed_in_client(django_user_model)
    token = browser.cookies["csrftoken"].value
    response = post(browser, png(3000), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    stored = StoredFile.objects.get()
    assert stored.uploader == user
    assert len(staged_files()) == 1


def test_signed_in_user_without_the_csrf_header_is_refused(onedrive, django_user_model):
    """The session cookie alone could come from another site's form: it is not enough."""
    browser, _ = signed_in_client(django_user_model)
    assert_refused(post(browser, png(3000)), 401, "auth code")


# Outside a test transaction, as in a request: the INSERT commits (and checks the channel) at once.
@pytest.mark.django_db(transaction=True)
def test_channel_deleted_while_the_file_arrived(client, onedrive, code, monkeypatch):
    """The channel was chosen, then deleted before the row went in: a clear 503, nothing kept."""
    from uploads import api, channel_choice

    chosen = channel_choice.choose()
    gone = type(chosen)(**{**chosen.__dict__, "pk": chosen.pk + 1000})
    monkeypatch.setattr(api._Upload, "choose", lambda self, size: gone)
    assert_refused(post(client, query=f"authCode={CODE}"), 503, "went away")
