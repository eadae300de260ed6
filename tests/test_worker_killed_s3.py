"""A worker killed (SIGKILL) in the middle of an S3 multipart upload: S3 cannot resume another
process's multipart upload, so the next attempt starts again from the first part, after aborting
the dead attempt's upload so its parts are not left in the bucket. One object, the right bytes."""

import hashlib
import json

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.s3.models import S3Settings
from tests.channels import s3_channel
from tests.files import png
from tests.manage_support import CODE, upload_code
from tests.outage import Switch
from tests.test_server_outage import through
from tests.test_worker_killed import LEASE
from tests.worker import wait_for
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)

PART = 5 * 1024 * 1024  # S3's smallest part


def test_a_killed_multipart_upload_is_aborted_and_sent_again_once(
    client, s3_server, start_worker, start_beat
):
    upload_code()
    channel = s3_channel(s3_server, name="Bucket", health="connected")
    slow = Switch("127.0.0.1", int(s3_server.url.rsplit(":", 1)[1]), delay=0.01)
    try:
        S3Settings.objects.filter(channel=channel).update(endpoint_url=through(slow, s3_server.url))
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_server.url,
            region_name=s3_server.region,
            aws_access_key_id=s3_server.access_key_id,
            aws_secret_access_key=s3_server.secret_access_key,
        )
        data = png(4 * PART + 12345)
        # The default pool (threads): the whole worker dies, as in a crash or a lost host.
        worker = start_worker(concurrency=1, IMGBED_S3_PART_SIZE=PART, IMGBED_UPLOAD_LEASE=LEASE)
        response = client.post(f"/upload?authCode={CODE}", {"file": SimpleUploadedFile("big.png", data)})
        assert response.status_code == 200, response.content
        src = json.loads(response.content)[0]["src"]
        key = f"{channel.root_directory}/{src.removeprefix('/file/')}"

        def unfinished():
            return [
                u
                for u in s3.list_multipart_uploads(Bucket=s3_server.bucket).get("Uploads", [])
                if u["Key"] == key
            ]

        def a_part_sent():
            uploads = unfinished()
            return uploads and s3.list_parts(
                Bucket=s3_server.bucket, Key=key, UploadId=uploads[0]["UploadId"]
            ).get("Parts")

        wait_for(a_part_sent, what="the first part to arrive")
        (dead,) = [u["UploadId"] for u in unfinished()]
        worker.kill()
        slow.delay = 0
        # Reconcile hands the file, its claim lapsed, to a live worker.
        start_worker(concurrency=1, IMGBED_S3_PART_SIZE=PART, IMGBED_UPLOAD_LEASE=LEASE)
        start_beat(IMGBED_RECONCILE_INTERVAL=2, IMGBED_UPLOAD_LEASE=LEASE)

        row = wait_for(
            lambda: StoredFile.objects.filter(public_id=src.removeprefix("/file/"), status="stored").first(),
            timeout=90,
            what="the file to be stored by the next attempt",
        )
        assert row.attempts == 2
        assert unfinished() == [], "the dead attempt's multipart upload was left in the bucket"
        with pytest.raises(s3.exceptions.NoSuchUpload):
            s3.list_parts(Bucket=s3_server.bucket, Key=key, UploadId=dead)
        listed = s3.list_objects_v2(Bucket=s3_server.bucket, Prefix=channel.root_directory + "/")
        assert [o["Key"] for o in listed.get("Contents", [])] == [key]
        stored = s3.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()
        assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
        served = client.get(src)
        assert b"".join(served.streaming_content) == data
    finally:
        slow.close()
