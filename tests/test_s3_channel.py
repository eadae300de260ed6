"""An S3-compatible bucket as a channel: the backend against a real S3 server (moto on
loopback, through django-storages and boto3), serving through the site, its settings form,
the command line, and the pipeline with a real worker."""

import hashlib
import json
import socket

import pytest
import requests
from botocore.exceptions import ClientError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from channels import probes
from channels.backends import backend_for
from channels.errors import PermanentError, TransientError
from channels.local.models import LocalChannel, LocalSettings
from channels.models import Channel
from channels.s3 import backend as s3_backend
from channels.s3.backend import MIN_PART_SIZE, S3Backend, part_size
from channels.s3.forms import S3ChannelForm
from channels.s3.models import S3Channel, S3Settings
from tests.channels import s3_channel
from tests.files import FileStream, Stream, png
from tests.worker import wait_for
from uploads.models import ApiToken, StoredFile, UploadCode

MiB = 1024 * 1024


def missing(client, bucket, key) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


# The backend against the server.


@pytest.mark.django_db
def test_store_read_ranges_and_delete(s3_server):
    channel = s3_channel(s3_server)
    backend = backend_for(channel)
    assert isinstance(backend, S3Backend)
    data = png(50_000)
    key = f"{channel.root_directory}/2025/06 june/pic #1.png"
    stored = backend.store(key, Stream(data), len(data))
    assert (stored.remote_id, stored.size) == (key, len(data))

    bucket = s3_server.client()
    obj = bucket.get_object(Bucket=s3_server.bucket, Key=key)
    assert obj["Body"].read() == data
    assert obj["ContentType"] == "image/png" and "ContentDisposition" not in obj
    assert obj["Metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}
    assert "-" not in obj["ETag"]  # one PUT, not a multipart upload

    assert b"".join(backend.open_range(key, 10, 99)) == data[10:100]
    assert b"".join(backend.open_range(key, 0, len(data) - 1)) == data
    assert b"".join(backend.open_range(key, len(data) - 1, len(data) - 1)) == data[-1:]
    assert backend.redirect_url(key) is None  # proxy by default

    backend.delete(key)
    assert missing(bucket, s3_server.bucket, key)
    backend.delete(key)  # already gone is success
    with pytest.raises(PermanentError, match="missing from bucket") as gone:
        b"".join(backend.open_range(key, 0, 1))
    assert gone.value.code == "itemNotFound" and not gone.value.channel_wide


@pytest.mark.django_db
def test_a_file_above_one_part_goes_up_as_a_multipart_upload(s3_server, settings, tmp_path):
    settings.IMGBED_S3_PART_SIZE = MIN_PART_SIZE  # the smallest S3 allows, to keep the test quick
    backend = backend_for(s3_channel(s3_server))
    data = png(MIN_PART_SIZE + 300_000)
    source = tmp_path / "big.png"
    source.write_bytes(data)
    key = f"{backend.prefix}/big.png"
    assert backend.store(key, FileStream(source), len(data)).size == len(data)

    bucket = s3_server.client()
    head = bucket.head_object(Bucket=s3_server.bucket, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-2")  # S3 names a multipart object's ETag by its parts
    assert bucket.head_object(Bucket=s3_server.bucket, Key=key, PartNumber=1)["PartsCount"] == 2
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    body = bucket.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    across = MIN_PART_SIZE - 1000, MIN_PART_SIZE + 1000  # the bytes either side of the parts' seam
    assert b"".join(backend.open_range(key, *across)) == data[across[0] : across[1] + 1]


def test_part_sizes():
    assert part_size(1) == 8 * MiB  # the default
    assert part_size(200 * 1024**3) == -(-200 * 1024**3 // 10_000)  # S3 takes at most 10,000 parts


def test_part_size_is_never_below_what_s3_accepts(settings):
    settings.IMGBED_S3_PART_SIZE = 1024
    assert part_size(100 * MiB) == MIN_PART_SIZE


@pytest.mark.django_db
def test_the_same_bytes_again_count_as_stored_other_bytes_are_refused(s3_server):
    backend = backend_for(s3_channel(s3_server))
    data = png(1000)
    key = f"{backend.prefix}/x/pic.png"
    backend.store(key, Stream(data), len(data))
    assert backend.store(key, Stream(data), len(data)).size == len(data)  # a redelivered task
    other = png(1000)  # random payload: other bytes, same size
    with pytest.raises(PermanentError, match="different object already exists") as refused:
        backend.store(key, Stream(other), len(other))
    assert refused.value.code == "nameAlreadyExists"
    assert s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == data


@pytest.mark.django_db
def test_active_content_is_stored_as_an_attachment(s3_server):
    backend = backend_for(s3_channel(s3_server))
    for name, disposition in (("page.html", "attachment"), ("pic.svg", "attachment"), ("clip.mp4", None)):
        key = f"{backend.prefix}/{name}"
        backend.store(key, Stream(b"<html></html>"), 13)
        head = s3_server.client().head_object(Bucket=s3_server.bucket, Key=key)
        assert head.get("ContentDisposition") == disposition, name


@pytest.mark.django_db
def test_a_short_staged_file_is_retried(s3_server):
    backend = backend_for(s3_channel(s3_server))
    with pytest.raises(TransientError, match="Read 10 bytes of a 11-byte file"):
        backend.store(f"{backend.prefix}/short.png", Stream(b"0123456789"), 11)


# What goes wrong, in words.


@pytest.mark.django_db
def test_a_bucket_that_does_not_exist_says_what_to_do(s3_server):
    channel = s3_channel(s3_server, bucket="no-such-bucket")
    backend = backend_for(channel)
    with pytest.raises(PermanentError) as refused:
        backend.store(f"{backend.prefix}/pic.png", Stream(b"x"), 1)
    assert refused.value.code == "bucketNotFound" and refused.value.channel_wide
    assert str(refused.value) == (
        f"The bucket no-such-bucket does not exist at {s3_server.url}. Create it there (this site does "
        "not create buckets), or fix the bucket name or the endpoint URL in the channel's settings."
    )
    with pytest.raises(PermanentError, match="does not exist"):
        probes.check(channel.pk)
    row = Channel.objects.get(pk=channel.pk)
    assert row.health == Channel.Health.ERROR and "no-such-bucket does not exist" in row.last_error
    assert s3_server.secret_access_key not in row.last_error


@pytest.mark.django_db
def test_the_right_keys_work_where_the_server_checks_signatures(s3_auth_server):
    channel = s3_channel(s3_auth_server)
    assert "wrote, read back and deleted" in probes.check(channel.pk)
    backend = backend_for(channel)
    data = png(3000)
    key = f"{backend.prefix}/pic.png"
    backend.store(key, Stream(data), len(data))
    assert b"".join(backend.open_range(key, 5, 9)) == data[5:10]
    backend.delete(key)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("keys", "words"),
    [
        (
            lambda server: (server.access_key_id, "not-the-secret-0123456789abcdefghijklm"),
            "refused the secret access key of the access key ID {key_id}. Paste the secret access key again",
        ),
        (
            lambda server: ("AKIAIMGBEDNOSUCHKEY0", "not-the-secret-0123456789abcdefghijklm"),
            "does not know the access key ID AKIAIMGBEDNOSUCHKEY0. Fix the access key ID",
        ),
        (
            lambda server: (server.reader_key_id, server.reader_secret),
            "refused the access key ID {key_id} for bucket imgbed-test. Check the access key ID and secret "
            "access key, and give the key permission to list the bucket and to read, write and delete objects "
            "in imgbed-test.",
        ),
    ],
    ids=["wrong secret", "unknown key ID", "key without write permission"],
)
def test_refused_credentials_say_which_and_never_show_the_secret(s3_auth_server, caplog, keys, words):
    key_id, secret = keys(s3_auth_server)
    channel = s3_channel(s3_auth_server, access_key_id=key_id, secret=secret)
    backend = backend_for(channel)
    expected = words.format(key_id=key_id)
    with pytest.raises(PermanentError) as refused:
        backend.store(f"{backend.prefix}/pic.png", Stream(b"x"), 1)  # HEAD first: its 403 has no code
    assert expected in str(refused.value)
    assert refused.value.code == "accessDenied" and refused.value.channel_wide
    with pytest.raises(PermanentError) as failed:
        probes.check(channel.pk)
    assert expected in str(failed.value)
    row = Channel.objects.get(pk=channel.pk)
    assert row.health == Channel.Health.ERROR and expected in row.last_error
    for text in (str(refused.value), str(failed.value), row.last_error, caplog.text):
        assert secret not in text


@pytest.mark.django_db
def test_an_unreachable_endpoint_is_transient(s3_server, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = s3_channel(s3_server)
    S3Settings.objects.filter(channel=channel).update(endpoint_url=f"http://127.0.0.1:{port}")
    monkeypatch.setattr(s3_backend, "RETRIES", {"max_attempts": 1, "mode": "standard"})  # no waits here
    backend = backend_for(channel)
    with pytest.raises(TransientError, match=f"Cannot reach http://127.0.0.1:{port}") as failed:
        backend.delete(f"{backend.prefix}/pic.png")
    assert failed.value.code == "connectionError"


@pytest.mark.django_db
def test_a_channel_without_keys_or_bucket_is_a_clear_error(s3_server):
    channel = S3Channel.objects.create(name="Empty")
    with pytest.raises(PermanentError, match="has no bucket") as bad:
        backend_for(channel)
    assert bad.value.code == "badConfig"
    S3Settings.objects.create(channel=channel, bucket="imgbed-test", access_key_id="AKIA")
    with pytest.raises(PermanentError, match="no access key ID or secret access key"):
        backend_for(channel)


def _client_error(status, code, message="", **headers):
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
        },
        "PutObject",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "code", "message", "error", "kind", "retry_after"),
    [
        (404, "NoSuchBucket", "", PermanentError, "bucketNotFound", None),
        (403, "AccessDenied", "", PermanentError, "accessDenied", None),
        (
            403,
            "AccessDenied",
            "Cannot upload files, storage cap exceeded.",
            PermanentError,
            "quotaLimitReached",
            None,
        ),
        (507, "XMinioStorageFull", "", PermanentError, "quotaLimitReached", None),
        (400, "InvalidBucketName", "", PermanentError, "badConfig", None),
        (301, "PermanentRedirect", "", PermanentError, "badConfig", None),
        (400, "EntityTooLarge", "", PermanentError, "fileTooLarge", None),
        (503, "SlowDown", "", TransientError, "serviceNotAvailable", 7.0),
        (429, "TooManyRequests", "", TransientError, "throttled", 7.0),
        (500, "InternalError", "", TransientError, "serviceNotAvailable", None),
    ],
)
def test_answers_map_to_errors(s3_server, status, code, message, error, kind, retry_after):
    backend = backend_for(s3_channel(s3_server))
    headers = {"retry-after": "7"} if retry_after else {}
    exc = backend._error(_client_error(status, code, message, **headers), "imgbed/pic.png")
    assert type(exc) is error and exc.code == kind and exc.retry_after == retry_after
    channel_wide = kind in ("bucketNotFound", "accessDenied", "quotaLimitReached", "badConfig")
    assert exc.channel_wide == channel_wide
    assert s3_server.secret_access_key not in str(exc)


# Test connection and space.


@pytest.mark.django_db
def test_check_in_words_and_quota_from_the_capacity(s3_server):
    channel = s3_channel(s3_server, capacity=10 * MiB, root_directory="site/pics")
    said = probes.check(channel.pk)
    assert said == (
        f"wrote, read back and deleted a test object under site/pics/ in bucket imgbed-test at {s3_server.url}"
    )
    row = Channel.objects.get(pk=channel.pk)
    assert (row.health, row.last_error) == (Channel.Health.CONNECTED, "")
    # S3 reports no quota: the staff-set capacity and the bytes this site stored there.
    assert (row.quota_total, row.quota_used, row.quota_remaining) == (10 * MiB, 0, 10 * MiB)
    assert row.quota_samples.count() == 1
    left = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix="site/pics/")
    assert left["KeyCount"] == 0  # the test object is gone

    Channel.objects.filter(pk=channel.pk).update(stored_bytes=4 * MiB)
    quota = backend_for(Channel.objects.get(pk=channel.pk)).quota()
    assert (quota.total, quota.used, quota.remaining) == (10 * MiB, 4 * MiB, 6 * MiB)
    Channel.objects.filter(pk=channel.pk).update(capacity=None)
    quota = backend_for(Channel.objects.get(pk=channel.pk)).quota()
    assert (quota.total, quota.used, quota.remaining) == (None, 4 * MiB, None)


# Serving through the site.


def stored_on(channel, backend, data, name="pic.png", content_type="image/png"):
    key = f"{channel.root_directory}/{name}"
    backend.store(key, Stream(data), len(data))
    return StoredFile.objects.create(
        public_id=name,
        original_name=name,
        remote_path=key,
        remote_id=key,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
        channel=channel,
        status=StoredFile.Status.STORED,
    )


def content(response):
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_the_site_proxies_ranges_head_and_conditional_gets(client, s3_server):
    channel = s3_channel(s3_server)
    data = png(200_000)
    row = stored_on(channel, backend_for(channel), data)

    full = client.get(row.url_path)
    assert full.status_code == 200 and content(full) == data
    assert full["Content-Type"] == "image/png" and full["Accept-Ranges"] == "bytes"

    part = client.get(row.url_path, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and content(part) == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}" and part["Content-Length"] == "100"
    tail = client.get(row.url_path, HTTP_RANGE="bytes=-500")
    assert tail.status_code == 206 and content(tail) == data[-500:]

    head = client.head(row.url_path)
    assert head.status_code == 200 and head["Content-Length"] == str(len(data)) and head.content == b""

    etag = full["ETag"]
    assert client.get(row.url_path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(row.url_path, HTTP_IF_MODIFIED_SINCE=full["Last-Modified"]).status_code == 304

    s3_server.client().delete_object(Bucket=s3_server.bucket, Key=row.remote_id)
    assert client.get(row.url_path).status_code == 404  # gone from the bucket: not a 500


@pytest.mark.django_db
def test_redirect_mode_sends_a_presigned_url_that_downloads(client, s3_server):
    channel = s3_channel(s3_server, serve_mode="redirect")
    data = png(120_000)
    row = stored_on(channel, backend_for(channel), data)
    response = client.get(row.url_path)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{s3_server.url}/{s3_server.bucket}/{channel.root_directory}/pic.png?")
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    assert response["Cache-Control"] == "no-store"  # the URL expires: no cache may keep the redirect
    assert s3_server.secret_access_key not in location
    downloaded = requests.get(location, timeout=10)
    assert downloaded.status_code == 200 and downloaded.content == data
    assert requests.get(location.partition("?")[0], timeout=10).status_code == 403  # the bucket is private
    ranged = requests.get(location, headers={"Range": "bytes=10-19"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == data[10:20]


@pytest.mark.django_db
def test_a_public_base_url_is_redirected_to_and_serves_the_object(client, s3_server):
    base = f"{s3_server.url}/{s3_server.public_bucket}"  # as a public bucket's or a CDN's address
    channel = s3_channel(s3_server, bucket=s3_server.public_bucket, public_base_url=base + "/")
    data = png(30_000)
    row = stored_on(channel, backend_for(channel), data, name="ünï 图片.png")
    assert client.get(row.url_path).status_code == 200  # proxy mode: the public URL is not used
    S3Channel.objects.filter(pk=channel.pk).update(serve_mode="redirect")

    response = client.get(row.url_path)
    assert response.status_code == 302
    location = response["Location"]
    assert location == f"{base}/{channel.root_directory}/%C3%BCn%C3%AF%20%E5%9B%BE%E7%89%87.png"
    downloaded = requests.get(location, timeout=10)  # no signature: anyone may read this bucket
    assert downloaded.status_code == 200 and downloaded.content == data


# The settings form and the command line.


def form_data(server, **values):
    return {
        "name": "R2",
        "endpoint_url": server.url,
        "bucket": server.bucket,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "addressing_style": "path",
        "root_directory": "",
        "serve_mode": "proxy",
        "public_base_url": "",
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
        ({"bucket": "My_Bucket"}, "bucket", "is not a valid bucket name"),
        ({"bucket": "ab"}, "bucket", "is not a valid bucket name"),
        ({"endpoint_url": "minio:9000"}, "endpoint_url", "starting with https://"),
        ({"endpoint_url": "https://s3.example.com/imgbed"}, "endpoint_url", "without a path"),
        ({"public_base_url": "cdn.example.com"}, "public_base_url", "starting with https://"),
        ({"secret_access_key": ""}, "secret_access_key", "Paste the secret access key"),
        ({"access_key_id": ""}, "access_key_id", "required"),
        ({"root_directory": "a/../b"}, "root_directory", "cannot contain '..'"),
        ({"root_directory": "my pics"}, "root_directory", "Keep the key prefix"),
        ({"serve_mode": "public"}, "serve_mode", "Select a valid choice"),
    ],
)
def test_the_form_refuses_bad_settings(s3_server, values, field, words):
    form = S3ChannelForm(data=form_data(s3_server, **values))
    assert not form.is_valid()
    assert words in " ".join(form.errors[field])


def raw_secret(channel) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT secret_access_key FROM {S3Settings._meta.db_table} WHERE channel_id = %s",  # noqa: S608
            [channel.pk],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_form_saves_settings_and_keeps_the_secret_encrypted_and_write_only(s3_server):
    form = S3ChannelForm(
        data=form_data(
            s3_server,
            endpoint_url=s3_server.url + "/",
            root_directory="/pics/imgbed/",
            public_base_url="https://cdn.example.com/img/",
            serve_mode="redirect",
        )
    )
    assert form.is_valid(), form.errors
    channel = form.save()
    s3 = S3Settings.objects.get(channel=channel)
    assert (channel.kind, channel.root_directory, channel.serve_mode) == ("s3", "pics/imgbed", "redirect")
    assert (
        s3.endpoint_url,
        s3.bucket,
        s3.region,
        s3.access_key_id,
        s3.addressing_style,
        s3.public_base_url,
    ) == (
        s3_server.url,
        s3_server.bucket,
        s3_server.region,
        s3_server.access_key_id,
        "path",
        "https://cdn.example.com/img",
    )
    assert s3.secret_access_key == s3_server.secret_access_key
    raw = raw_secret(channel)
    assert raw.startswith("gAAAAA") and s3_server.secret_access_key not in raw  # a Fernet token

    change = S3ChannelForm(instance=S3Channel.objects.get(pk=channel.pk))
    html = str(change)
    assert s3_server.secret_access_key not in html and raw not in html
    assert "stored and is not shown" in html
    assert change.initial["bucket"] == s3_server.bucket

    row = S3Channel.objects.get(pk=channel.pk)
    edited = S3ChannelForm(data=form_data(s3_server, secret_access_key="", priority=3), instance=row)
    assert edited.is_valid(), edited.errors
    edited.save(commit=False).save()
    edited.save_settings(row)  # as the admin's save_related does
    assert S3Settings.objects.get(channel=channel).secret_access_key == s3_server.secret_access_key
    assert raw_secret(channel) == raw  # not even re-encrypted
    assert S3Channel.objects.get(pk=channel.pk).priority == 3
    assert "wrote, read back and deleted" in probes.check(channel.pk)


@pytest.mark.django_db
def test_adding_an_s3_channel_in_the_admin_tests_it_and_never_shows_the_secret(admin_client, s3_server):
    data = form_data(s3_server, capacity=str(50 * MiB), note="")
    response = admin_client.post("/admin/channels/s3channel/add/", data, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and "R2 was saved and works: wrote, read back and deleted a test object" in said[0]
    channel = Channel.objects.get(name="R2")
    assert (channel.kind, channel.health, channel.quota_total) == ("s3", Channel.Health.CONNECTED, 50 * MiB)
    page = admin_client.get(f"/admin/channels/s3channel/{channel.pk}/change/").content.decode()
    assert s3_server.secret_access_key not in page and "stored and is not shown" in page
    assert f"/admin/channels/s3channel/{channel.pk}/test-connection/" in page
    tested = admin_client.post(f"/admin/channels/s3channel/{channel.pk}/test-connection/", follow=True)
    assert "R2 works: wrote, read back and deleted a test object" in tested.content.decode()


@pytest.mark.django_db
def test_the_command_line_adds_and_tests_a_channel(s3_server, tmp_path, capsys):
    secret_file = tmp_path / "secret"
    secret_file.write_text(s3_server.secret_access_key + "\n")
    settings = [
        "--set",
        f"endpoint_url={s3_server.url}",
        "--set",
        f"region={s3_server.region}",
        "--set",
        f"access_key_id={s3_server.access_key_id}",
        "--set-file",
        f"secret_access_key={secret_file}",
    ]
    call_command(
        "channels", "add", "s3", "--name", "Bucket", "--set", f"bucket={s3_server.bucket}", *settings
    )
    out = capsys.readouterr().out
    assert "Added the s3 channel Bucket." in out
    assert (
        "Bucket: works: wrote, read back and deleted a test object under imgbed/ in bucket imgbed-test at "
        f"{s3_server.url}." in out
    )
    assert s3_server.secret_access_key not in out
    channel = Channel.objects.get(name="Bucket")
    assert (channel.kind, channel.health) == ("s3", Channel.Health.CONNECTED)
    assert S3Settings.objects.get(channel=channel).secret_access_key == s3_server.secret_access_key
    assert s3_server.secret_access_key not in raw_secret(channel)

    with pytest.raises(CommandError, match="The bucket no-such-bucket does not exist") as failed:
        call_command("channels", "add", "s3", "--name", "Typo", "--set", "bucket=no-such-bucket", *settings)
    assert s3_server.secret_access_key not in str(failed.value)


# The pipeline, with a real worker.


def upload_code():
    code = UploadCode(label="t")
    code.set_code("s3-code")
    code.save()


def upload(client, data, name):
    response = client.post("/upload?authCode=s3-code", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200, response.content
    return json.loads(response.content)[0]["src"]


@pytest.mark.django_db(transaction=True)
def test_upload_serve_and_delete_through_a_worker(client, s3_server, start_worker):
    channel = s3_channel(s3_server, health=Channel.Health.CONNECTED)
    upload_code()
    start_worker(concurrency=1)
    small, big = png(300_000), png(8 * MiB + 200_000)  # big: above the default part size
    links = {upload(client, small, "small.png"): small, upload(client, big, "big.png"): big}
    wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).count() == 2,
        what="both files to be stored",
    )
    bucket = s3_server.client()
    for row in StoredFile.objects.all():
        assert row.remote_id == row.remote_path and row.remote_path.startswith(channel.root_directory + "/")
        obj = bucket.get_object(Bucket=s3_server.bucket, Key=row.remote_id)
        assert hashlib.sha256(obj["Body"].read()).hexdigest() == row.sha256
        assert obj["ETag"].strip('"').endswith("-2") == (row.size == len(big))  # multipart: 2 parts
    assert Channel.objects.get(pk=channel.pk).stored_bytes == len(small) + len(big)

    for src, data in links.items():
        served = client.get(src, HTTP_RANGE="bytes=100-199")
        assert served.status_code == 206 and content(served) == data[100:200]
        assert content(client.get(src)) == data

    row = StoredFile.objects.get(original_name="small.png")
    token_row = ApiToken(name="cleaner", can_delete=True)
    token = token_row.issue()
    token_row.save()
    deleted = client.delete(f"/api/manage/delete/{row.public_id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert deleted.status_code == 200
    wait_for(lambda: missing(bucket, s3_server.bucket, row.remote_id), what="the object to be deleted")
    wait_for(
        lambda: StoredFile.objects.filter(pk=row.pk, status=StoredFile.Status.DELETED, remote_id="").exists(),
        what="the row to record the deletion",
    )
    assert Channel.objects.get(pk=channel.pk).stored_bytes == len(big)


@pytest.mark.django_db(transaction=True)
def test_a_missing_bucket_hands_the_file_to_the_next_channel(client, s3_server, start_worker, tmp_path):
    broken = s3_channel(s3_server, name="Typo", bucket="no-such-bucket", priority=1, health="connected")
    fallback = LocalChannel.objects.create(name="Disk", priority=2, health=Channel.Health.CONNECTED)
    LocalSettings.objects.create(channel=fallback, path=str(tmp_path))
    upload_code()
    start_worker(concurrency=1)
    data = png(20_000)
    src = upload(client, data, "pic.png")
    assert StoredFile.objects.get().channel_id == broken.pk
    row = wait_for(
        lambda: StoredFile.objects.filter(status=StoredFile.Status.STORED).first(),
        what="the file to be stored",
    )
    assert row.channel_id == fallback.pk
    assert "Moved from Typo to Disk: The bucket no-such-bucket does not exist" in row.moved_note
    assert (tmp_path / row.remote_path).read_bytes() == data
    assert content(client.get(src)) == data  # the same link
    broken.refresh_from_db()
    assert broken.health == Channel.Health.ERROR and "Create it there" in broken.last_error
