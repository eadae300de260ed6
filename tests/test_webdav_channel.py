"""A WebDAV server as a channel: the backend against a real server (WsgiDAV on loopback),
its settings form, the command line, and the pipeline with a real worker."""

import hashlib
import io
import json
import uuid

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from channels import probes
from channels.backends import backend_for
from channels.errors import PermanentError, TransientError
from channels.models import Channel
from channels.webdav.backend import WebDAVBackend, parse_quota
from channels.webdav.forms import WebDAVChannelForm
from channels.webdav.models import WebDAVChannel, WebDAVSettings
from tests.files import FileStream, Stream, png
from tests.worker import wait_for
from uploads.models import StoredFile, UploadCode


def dav_channel(server, base_url=None, password=None, **fields):
    channel = WebDAVChannel.objects.create(
        name=fields.pop("name", "DAV"),
        root_directory=fields.pop("root_directory", f"r-{uuid.uuid4().hex[:8]}"),
        **fields,
    )
    WebDAVSettings.objects.create(
        channel=channel,
        base_url=base_url or server.files_url,
        username=server.user,
        password=server.password if password is None else password,
    )
    return channel


@pytest.mark.django_db
def test_a_folder_removed_on_the_server_is_made_again_on_retry(webdav_server):
    import shutil

    channel = dav_channel(webdav_server)
    backend = backend_for(channel)
    first, second = png(1000), png(2000)
    backend.store(f"{channel.root_directory}/a/one.png", Stream(first), len(first))
    shutil.rmtree(webdav_server.root / "files" / channel.root_directory / "a")  # someone tidied the server
    with pytest.raises(TransientError):  # a 409, or the connection closed on the PUT
        backend.store(f"{channel.root_directory}/a/two.png", Stream(second), len(second))
    backend.store(f"{channel.root_directory}/a/two.png", Stream(second), len(second))  # the retry
    assert (webdav_server.root / "files" / channel.root_directory / "a" / "two.png").read_bytes() == second


@pytest.mark.django_db
def test_store_into_nested_folders_read_ranges_and_delete(webdav_server):
    channel = dav_channel(webdav_server)
    backend = backend_for(channel)
    assert isinstance(backend, WebDAVBackend)
    data = png(50_000)
    path = f"{channel.root_directory}/2025/06 june/pic #1.png"
    stored = backend.store(path, Stream(data), len(data))
    on_disk = webdav_server.root / "files" / path
    assert on_disk.read_bytes() == data
    assert (stored.remote_id, stored.size) == (path, len(data))
    assert [p.name for p in on_disk.parent.iterdir()] == ["pic #1.png"]  # no temporary file left
    assert b"".join(backend.open_range(path, 10, 99)) == data[10:100]
    assert b"".join(backend.open_range(path, 0, len(data) - 1)) == data
    assert b"".join(backend.open_range(path, len(data) - 1, len(data) - 1)) == data[-1:]
    assert backend.redirect_url(path) is None
    backend.delete(path)
    assert not on_disk.exists()
    backend.delete(path)  # already gone is success
    with pytest.raises(PermanentError, match="missing"):
        backend.open_range(path, 0, 1)


@pytest.mark.django_db
def test_a_file_of_some_mib_is_streamed(webdav_server, tmp_path):
    backend = backend_for(dav_channel(webdav_server))
    source = tmp_path / "big.bin"
    data = png(6 * 1024 * 1024)
    source.write_bytes(data)
    path = f"{backend.root}/big.png"
    backend.store(path, FileStream(source), len(data))
    assert hashlib.sha256((webdav_server.root / "files" / path).read_bytes()).digest() == (
        hashlib.sha256(data).digest()
    )
    middle = 3 * 1024 * 1024
    assert (
        b"".join(backend.open_range(path, middle, middle + 2 * 1024 * 1024))
        == data[middle : middle + 2 * 1024 * 1024 + 1]
    )


@pytest.mark.django_db
def test_a_server_that_ignores_range_still_gives_exactly_the_range(webdav_server, monkeypatch):
    backend = backend_for(dav_channel(webdav_server))
    data = png(3 * 1024 * 1024)
    path = f"{backend.root}/pic.png"
    backend.store(path, Stream(data), len(data))
    request = backend.session.request

    def without_range(method, url, headers=None, **kwargs):
        headers = {k: v for k, v in (headers or {}).items() if k != "Range"}
        return request(method, url, headers=headers, **kwargs)

    monkeypatch.setattr(backend.session, "request", without_range)
    start, end = 1024 * 1024 + 17, 2 * 1024 * 1024 + 5
    assert b"".join(backend.open_range(path, start, end)) == data[start : end + 1]


@pytest.mark.django_db
def test_the_same_bytes_again_count_as_stored_other_bytes_are_refused(webdav_server):
    backend = backend_for(dav_channel(webdav_server))
    data = png(1000)
    path = f"{backend.root}/x/pic.png"
    backend.store(path, Stream(data), len(data))
    assert backend.store(path, Stream(data), len(data)).size == len(data)
    other = png(1000)  # random payload: other bytes, same size
    with pytest.raises(PermanentError, match="different file already exists") as refused:
        backend.store(path, Stream(other), len(other))
    assert refused.value.code == "nameAlreadyExists"
    with pytest.raises(PermanentError, match="different file already exists"):
        backend.store(path, Stream(data + b"!"), len(data) + 1)
    assert (webdav_server.root / "files" / path).read_bytes() == data


@pytest.mark.django_db
def test_a_wrong_password_is_refused_in_words(webdav_server, caplog):
    backend = backend_for(dav_channel(webdav_server, password="not-the-password"))
    with pytest.raises(PermanentError) as refused:
        backend.store(f"{backend.root}/pic.png", Stream(b"x"), 1)
    assert refused.value.code == "accessDenied"
    assert "refused the user name or password" in str(refused.value)
    with pytest.raises(PermanentError, match="refused the user name or password"):
        backend.check()
    assert "not-the-password" not in caplog.text and "not-the-password" not in str(refused.value)


@pytest.mark.django_db
def test_a_base_url_that_does_not_exist_is_a_clear_error(webdav_server):
    backend = backend_for(dav_channel(webdav_server, base_url=webdav_server.url + "/no-such-share"))
    with pytest.raises(PermanentError, match="There is no WebDAV folder at .*/no-such-share") as bad:
        backend.check()
    assert bad.value.code == "badConfig"
    with pytest.raises(PermanentError, match="no WebDAV folder"):
        backend.store(f"{backend.root}/a/pic.png", Stream(b"x"), 1)


@pytest.mark.django_db
def test_an_unreachable_server_is_transient(webdav_server):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = backend_for(dav_channel(webdav_server, base_url=f"http://127.0.0.1:{port}/dav"))
    with pytest.raises(TransientError, match="Cannot reach the WebDAV server at 127.0.0.1"):
        backend.delete("imgbed/pic.png")


def _response(status, **headers):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response.raw = io.BytesIO(b"")
    return response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "error", "code", "retry_after"),
    [
        (401, PermanentError, "accessDenied", None),
        (403, PermanentError, "accessDenied", None),
        (507, PermanentError, "quotaLimitReached", None),
        (423, TransientError, "serverError", None),
        (429, TransientError, "throttled", 7.0),
        (503, TransientError, "serverError", 7.0),
    ],
)
def test_statuses_map_to_errors(webdav_server, status, error, code, retry_after):
    backend = backend_for(dav_channel(webdav_server))
    headers = {"Retry-After": "7"} if retry_after else {}
    exc = backend._fail(_response(status, **headers), "write the file")
    assert type(exc) is error and exc.code == code and exc.retry_after == retry_after
    assert webdav_server.password not in str(exc)


@pytest.mark.django_db
def test_check_in_words_and_quota_fallback(webdav_server):
    channel = dav_channel(webdav_server, capacity=10 * 1024**2)
    said = probes.check(channel.pk)
    assert (
        said
        == f"wrote, read back and deleted a test file at {webdav_server.files_url}/{channel.root_directory}"
    )
    row = Channel.objects.get(pk=channel.pk)
    assert row.health == Channel.Health.CONNECTED
    # /files reports no RFC 4331 quota: the staff-set capacity and the bytes this site stored.
    assert (row.quota_total, row.quota_used, row.quota_remaining) == (10 * 1024**2, 0, 10 * 1024**2)
    assert list((webdav_server.root / "files" / channel.root_directory).iterdir()) == []
    Channel.objects.filter(pk=channel.pk).update(capacity=None, stored_bytes=500)
    quota = backend_for(Channel.objects.get(pk=channel.pk)).quota()
    assert (quota.total, quota.used, quota.remaining) == (None, 500, None)


@pytest.mark.django_db
def test_quota_where_the_server_reports_it(webdav_server):
    channel = dav_channel(webdav_server, base_url=webdav_server.quota_url)
    quota = backend_for(channel).quota()  # the root folder does not exist yet: the base URL answers
    used, available = webdav_server.QUOTA_USED, webdav_server.QUOTA_AVAILABLE
    assert (quota.total, quota.used, quota.remaining) == (used + available, used, available)
    probes.check(channel.pk)
    row = Channel.objects.get(pk=channel.pk)
    assert (row.quota_total, row.quota_used, row.quota_remaining) == (used + available, used, available)
    assert row.quota_samples.count() == 1


NEXTCLOUD_PROPFIND = b"""<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns"
  xmlns:nc="http://nextcloud.org/ns"><d:response><d:href>/remote.php/dav/files/ada/imgbed/</d:href>
<d:propstat><d:prop><d:quota-used-bytes>2191106</d:quota-used-bytes>
<d:quota-available-bytes>%s</d:quota-available-bytes></d:prop>
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"""

NOT_REPORTED = b"""<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>/dav/imgbed/</D:href>
<D:propstat><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop>
<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response></D:multistatus>"""


def test_the_quota_parser():
    assert parse_quota(NEXTCLOUD_PROPFIND % b"5366254570") == (2191106, 5366254570)
    assert parse_quota(NEXTCLOUD_PROPFIND % b"-3") is None  # Nextcloud's "unlimited"
    assert parse_quota(NOT_REPORTED) is None
    assert parse_quota(b"<html>not xml") is None


def form_data(server, **values):
    return {
        "name": "Nextcloud",
        "base_url": server.files_url,
        "username": server.user,
        "password": server.password,
        "root_directory": "",
        "priority": 10,
        "weight": 1,
        "fill_threshold": 95,
        "enabled": "on",
        **values,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"base_url": "ftp://example.com/dav"}, "base_url", "Give an http:// or https:// address"),
        ({"base_url": "https://ada:secret@cloud.example.com/dav"}, "base_url", "in their own fields"),
        ({"password": ""}, "password", "Give the password"),
        ({"root_directory": "../up"}, "root_directory", "cannot contain"),
    ],
)
def test_the_form_refuses_bad_settings(webdav_server, values, field, words):
    form = WebDAVChannelForm(data=form_data(webdav_server, **values))
    assert not form.is_valid()
    assert words in " ".join(form.errors[field])


@pytest.mark.django_db
def test_the_form_saves_and_keeps_the_password_write_only(webdav_server):
    form = WebDAVChannelForm(data=form_data(webdav_server, base_url=webdav_server.files_url + "/"))
    assert form.is_valid(), form.errors
    channel = form.save()
    dav = WebDAVSettings.objects.get(channel=channel)
    assert (channel.kind, channel.root_directory) == ("webdav", "imgbed")
    assert (dav.base_url, dav.username, dav.password) == (
        webdav_server.files_url,
        webdav_server.user,
        webdav_server.password,
    )

    change = WebDAVChannelForm(instance=WebDAVChannel.objects.get(pk=channel.pk))
    html = str(change)
    assert webdav_server.password not in html and "stored and is not shown" in html
    assert change.initial["base_url"] == webdav_server.files_url

    row = WebDAVChannel.objects.get(pk=channel.pk)
    edited = WebDAVChannelForm(data=form_data(webdav_server, password="", priority=3), instance=row)
    assert edited.is_valid(), edited.errors
    edited.save(commit=False).save()
    edited.save_settings(row)  # as an admin's save_related does
    dav = WebDAVSettings.objects.get(channel=channel)
    assert dav.password == webdav_server.password
    assert WebDAVChannel.objects.get(pk=channel.pk).priority == 3


@pytest.mark.django_db
def test_the_command_line_adds_and_tests_a_channel(webdav_server, monkeypatch, capsys):
    monkeypatch.setenv("DAV_PASSWORD_FOR_TEST", webdav_server.password)
    call_command(
        "channels",
        "add",
        "webdav",
        "--name",
        "NAS",
        "--set",
        f"base_url={webdav_server.files_url}",
        "--set",
        f"username={webdav_server.user}",
        "--set",
        "root_directory=cli/imgbed",
        "--set-env",
        "password=DAV_PASSWORD_FOR_TEST",
    )
    out = capsys.readouterr().out
    assert "Added the webdav channel NAS." in out
    assert (
        f"NAS: works: wrote, read back and deleted a test file at {webdav_server.files_url}/cli/imgbed" in out
    )
    channel = Channel.objects.get(name="NAS")
    assert channel.health == Channel.Health.CONNECTED

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT password FROM {WebDAVSettings._meta.db_table} WHERE channel_id = %s",  # noqa: S608
            [channel.pk],
        )
        (raw,) = cursor.fetchone()
    assert raw and webdav_server.password not in raw

    with pytest.raises(CommandError, match="refused the user name or password"):
        monkeypatch.setenv("DAV_PASSWORD_FOR_TEST", "wrong")
        call_command(
            "channels",
            "add",
            "webdav",
            "--name",
            "NAS 2",
            "--set",
            f"base_url={webdav_server.files_url}",
            "--set",
            f"username={webdav_server.user}",
            "--set-env",
            "password=DAV_PASSWORD_FOR_TEST",
        )


@pytest.mark.django_db(transaction=True)
def test_upload_to_a_webdav_channel_through_a_worker(client, webdav_server, start_worker):
    channel = dav_channel(webdav_server, health=Channel.Health.CONNECTED)
    code = UploadCode(label="t")
    code.set_code("dav-code")
    code.save()
    start_worker(concurrency=1)
    data = png(300_000)
    response = client.post("/upload?authCode=dav-code", {"file": SimpleUploadedFile("pic.png", data)})
    assert response.status_code == 200, response.content
    src = json.loads(response.content)[0]["src"]
    row = wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).first(),
        what="the file to be stored",
    )
    assert row.remote_path.startswith(channel.root_directory + "/")
    on_server = webdav_server.root / "files" / row.remote_path
    assert hashlib.sha256(on_server.read_bytes()).hexdigest() == row.sha256
    assert Channel.objects.get(pk=channel.pk).stored_bytes == len(data)

    served = client.get(src, HTTP_RANGE="bytes=100-199")
    assert served.status_code == 206
    assert b"".join(served.streaming_content) == data[100:200]
    assert b"".join(client.get(src).streaming_content) == data
