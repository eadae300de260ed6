"""What the management API tests share: tokens, file rows, and files really stored on a local channel."""

import datetime
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from uploads.models import ApiToken, StoredFile, UploadCode
from uploads.tasks import upload_to_channel

PERMISSIONS = ("upload", "delete", "list", "manage")
CODE = "manage-tests-code"

_ticks = itertools.count()
_epoch = timezone.now() - datetime.timedelta(days=1)


def token(*permissions, **fields) -> str:
    """A saved API token with exactly these permissions; returns the token itself."""
    row = ApiToken(name=fields.pop("name", "+".join(permissions) or "none"), **fields)
    for permission in PERMISSIONS:
        setattr(row, f"can_{permission}", permission in permissions)
    value = row.issue()
    row.save()
    return value


def bearer(value) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


def add_file(channel, public_id, *, size=1000, content_type="image/png", **fields) -> StoredFile:
    """A stored file's row (no bytes anywhere), newer than every one added before it."""
    name = public_id.rsplit("/", 1)[-1]
    created = fields.pop("created_at", None) or _epoch + datetime.timedelta(seconds=next(_ticks))
    row = StoredFile.objects.create(
        public_id=public_id,
        original_name=fields.pop("original_name", name),
        folder=public_id.rpartition("/")[0],
        remote_path=f"imgbed/{public_id}",
        remote_id=f"imgbed/{public_id}",
        size=size,
        sha256="0" * 64,
        content_type=content_type,
        category=content_type.split("/")[0],
        channel=channel,
        status=fields.pop("status", StoredFile.Status.STORED),
        **fields,
    )
    StoredFile.objects.filter(pk=row.pk).update(created_at=created)
    row.created_at = created
    return row


def upload_code():
    code = UploadCode(label="manage tests")
    code.set_code(CODE)
    code.save()
    return code


def upload_and_store(client, data, name="pic.png", folder="", name_type="origin") -> StoredFile:
    """POST /upload with an auth code (upload_code() first), then the worker's task, run here."""
    query = f"authCode={CODE}&uploadNameType={name_type}" + (f"&uploadFolder={folder}" if folder else "")
    response = client.post(f"/upload?{query}", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200, response.content
    public_id = response.json()[0]["src"].removeprefix("/file/")
    row = StoredFile.objects.get(public_id=public_id)
    assert upload_to_channel.apply(args=[row.pk]).get() == "stored"
    row.refresh_from_db()
    assert row.status == StoredFile.Status.STORED
    return row


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content
