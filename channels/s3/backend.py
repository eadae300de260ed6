"""An S3-compatible bucket as a channel backend: objects under the channel's key prefix.

django-storages' S3Storage holds the per-channel connection and makes presigned
URLs; its boto3 client does what a Django storage does not offer (ranged reads,
managed multipart uploads with metadata, HEAD).

Everything comes from the channel row: no AWS_* setting, environment variable
or ~/.aws file changes where the bytes go or which key signs them.
"""

import datetime
import functools
import hashlib
import logging
import mimetypes
import uuid
from urllib.parse import quote

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from django.conf import settings
from storages.backends.s3 import S3Storage

from channels.backends import ListedItem, Quota, Relocated, RemoteFile
from channels.crypto import SecretDecryptionError
from channels.errors import PermanentError, TransientError
from channels.s3.models import S3Settings

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# Above one part a file goes up in parts: memory stays bounded (one part) and a
# failed part is retried alone. S3 takes at most 10,000 parts of at least 5 MiB
# each (but the last). IMGBED_S3_PART_SIZE sets the size; 8 MiB by default.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
SHA256_METADATA = "sha256"  # sent as x-amz-meta-sha256
# Keys per list_objects_v2 page: S3's own maximum.
LIST_PAGE_SIZE = 1000
# Used to sign when the channel names no region: what S3-compatible servers accept
# (R2 also takes "auto"), and where AWS redirects from.
DEFAULT_REGION = "us-east-1"
# botocore's own retries of a request (throttling, 5xx, a dropped connection) before the
# error reaches the task, which then retries later itself.
RETRIES = {"max_attempts": 3, "mode": "standard"}

QUOTA_CODES = {
    "QuotaExceeded",
    "StorageQuotaExceeded",
    "XMinioStorageFull",
    "XMinioAdminBucketQuotaExceeded",
    "InsufficientStorage",
    "StorageCapExceeded",
}
# Words some servers put in a 403 when the account is past a limit (B2: "... cap exceeded").
QUOTA_WORDS = ("cap exceeded", "quota", "storage limit", "insufficient storage")
BAD_CONFIG_CODES = {
    "InvalidBucketName",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
    "InvalidRegion",
    "NotImplemented",
}
TRANSIENT_CODES = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "OperationAborted",
}
# Served inline from the bucket (a presigned URL, a public bucket or CDN); anything
# else is stored as an attachment, so a public URL never renders a page or a script.
INLINE_TYPES = ("image/", "video/", "audio/")
NOT_INLINE = {"image/svg+xml"}


def part_size(size: int) -> int:
    configured = getattr(settings, "IMGBED_S3_PART_SIZE", DEFAULT_PART_SIZE)
    return max(MIN_PART_SIZE, configured, -(-size // MAX_PARTS))


@functools.lru_cache(maxsize=64)
def _storage(bucket, endpoint_url, region, access_key_id, secret, addressing_style, expire) -> S3Storage:
    """One storage per channel's settings, kept: each request of the site makes a backend, and
    a new boto3 session and client cost more than the ranged read they serve. A change of
    settings is another key; boto3's clients are safe to share between threads."""
    return S3Storage(
        bucket_name=bucket,
        endpoint_url=endpoint_url or None,
        region_name=region,
        access_key=access_key_id,
        secret_key=secret,
        security_token=None,
        session_profile=None,
        location="",
        default_acl=None,
        querystring_auth=True,
        querystring_expire=expire,
        file_overwrite=False,
        custom_domain=None,
        cloudfront_signer=None,
        use_ssl=True,
        verify=None,
        proxies=None,
        client_config=Config(
            s3={"addressing_style": addressing_style},
            signature_version="s3v4",
            connect_timeout=10,
            read_timeout=60,
            retries=RETRIES,
            # Checksums only where S3 requires them, as before boto3 1.36: several
            # S3-compatible servers refuse the newer default's checksum headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            # Not AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3 either.
            ignore_configured_endpoint_urls=True,
        ),
    )


class S3Backend:
    def __init__(self, channel):
        self.channel = channel
        row = S3Settings.objects.filter(channel_id=channel.pk).first()
        if row is None or not row.bucket:
            raise PermanentError(
                f"The S3 channel {channel.name} has no bucket. Set its bucket and keys in the admin.",
                code="badConfig",
            )
        try:
            secret = row.secret_access_key
        except SecretDecryptionError as exc:
            raise PermanentError(str(exc), code="badConfig") from None
        if not row.access_key_id or not secret:
            raise PermanentError(
                f"The S3 channel {channel.name} has no access key ID or secret access key. Set both in "
                "the admin.",
                code="badConfig",
            )
        self.bucket = row.bucket
        self.endpoint_url = row.endpoint_url.rstrip("/")
        self.region = row.region or DEFAULT_REGION
        self.access_key_id = row.access_key_id
        self.public_base_url = row.public_base_url.rstrip("/")
        self.prefix = (channel.root_directory or "").strip("/")
        self.storage = _storage(
            row.bucket,
            self.endpoint_url,
            self.region,
            row.access_key_id,
            secret,
            row.addressing_style or S3Settings.Addressing.PATH,
            settings.IMGBED_DOWNLOAD_URL_TTL,
        )
        try:
            self.client = self.storage.connection.meta.client
        except ValueError as exc:  # botocore's "Invalid endpoint: ..."
            raise PermanentError(
                f"The endpoint URL {self.endpoint_url} of the S3 channel {channel.name} is not usable "
                f"({exc}). Fix it in the admin.",
                code="badConfig",
            ) from None

    def transfer_config(self, size: int) -> TransferConfig:
        part = part_size(size)
        # In the calling thread: the staged stream extends the upload's claim on the
        # database as it is read, and Django's connections belong to their thread.
        return TransferConfig(multipart_threshold=part, multipart_chunksize=part, use_threads=False)

    @property
    def where(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"

    def store(self, remote_path, open_stream, size, *, session_url=None, on_session=None) -> RemoteFile:
        key = remote_path
        started = datetime.datetime.now(datetime.UTC)
        existing = self._head(key)
        # Read once for the digest: S3 metadata is fixed when an upload begins.
        digest, read = self._digest(open_stream)
        if read != size:
            raise TransientError(
                f"Read {read} bytes of a {size}-byte file from staging. Will retry.", code="shortRead"
            )
        if existing is not None:
            return self._already_there(key, existing, size, digest)
        if size >= part_size(size):  # boto3's threshold for a multipart upload
            self._abort_unfinished(key, started)
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        extra = {"Metadata": {SHA256_METADATA: digest}, "ContentType": content_type}
        if not content_type.startswith(INLINE_TYPES) or content_type in NOT_INLINE:
            extra["ContentDisposition"] = "attachment"
        source = _Counting(open_stream)
        try:
            with source:
                self.client.upload_fileobj(
                    source, self.bucket, key, ExtraArgs=extra, Config=self.transfer_config(size)
                )
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise self._error(exc, key) from exc
        if source.digest.hexdigest() != digest or source.read_bytes != size:
            self.delete(key)
            raise TransientError(
                "The staged file changed while it was uploaded. Will retry.", code="shortRead"
            )
        stored = self._head(key)
        if stored is None or stored["ContentLength"] != size:
            got = "no object" if stored is None else f"{stored['ContentLength']} bytes"
            raise TransientError(
                f"Uploaded {size} bytes to {key} in bucket {self.bucket} but it holds {got}. Will retry.",
                code="sizeMismatch",
            )
        return RemoteFile(remote_id=key, size=size)

    def _already_there(self, key, head, size, digest) -> RemoteFile:
        """An earlier attempt may have finished without being recorded: the same bytes count as stored."""
        if head["ContentLength"] == size and head.get("Metadata", {}).get(SHA256_METADATA) == digest:
            return RemoteFile(remote_id=key, size=size)
        raise PermanentError(
            f"A different object already exists at {key} in bucket {self.bucket}. Move or delete it "
            "there, then retry the upload.",
            code="nameAlreadyExists",
        )

    def _abort_unfinished(self, key, started):
        """An attempt that died mid-upload (a killed worker, a lost host) leaves its parts in the
        bucket, unseen and billed, until someone aborts its multipart upload. An unfinished
        upload of this key begun before this attempt is such a dead attempt's (a live one begun
        later is the attempt that took this one over: left alone). Best effort: a server or a key
        that cannot list uploads still uploads, and a lifecycle rule is then the only cleaner."""
        try:
            listed = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for unfinished in listed.get("Uploads", []):
                if unfinished["Key"] == key and unfinished["Initiated"] < started:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=unfinished["UploadId"]
                    )
        except (ClientError, BotoCoreError) as exc:
            log.warning("Could not abort unfinished uploads of %s in bucket %s: %s", key, self.bucket, exc)

    def _digest(self, open_stream):
        digest = hashlib.sha256()
        read = 0
        with open_stream(0) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                read += len(chunk)
        return digest.hexdigest(), read

    def _head(self, key):
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None  # no such object (or no such bucket: the upload will say which)
            if _status(exc) in (400, 403):
                # A HEAD answer has no body, so no error code: ask again with a GET, whose
                # answer says which (unknown key ID, wrong secret, no permission).
                self._reason(key)
            raise self._error(exc, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, key) from exc

    def _reason(self, key):
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-0")
        except ClientError as exc:
            if _code(exc) and _code(exc) not in ("403", "400", "NoSuchKey", "InvalidRange"):
                raise self._error(exc, key) from exc
        except BotoCoreError:
            pass
        else:
            response["Body"].close()

    def relocate(self, remote_id, remote_path) -> Relocated:
        """A copy at the new key, made by the server (no bytes through this site; in parts above
        one part's size), with the same type and metadata; the old key is the leftover."""
        source = self._head(remote_id)
        if source is None:
            raise PermanentError(
                f"The object {remote_id} is missing from bucket {self.bucket} at {self.where}.",
                code="itemNotFound",
            )
        there = self._head(remote_path)
        if there is not None:
            mine = source.get("Metadata", {}).get(SHA256_METADATA)
            if (
                there["ContentLength"] != source["ContentLength"]
                or there.get("Metadata", {}).get(SHA256_METADATA) != mine
            ):
                raise PermanentError(
                    f"A different object already exists at {remote_path} in bucket {self.bucket}; the "
                    f"file stays at {remote_id}.",
                    code="nameAlreadyExists",
                )
            return Relocated(remote_path, leftover=remote_id)  # an earlier attempt copied it
        extra = {"Metadata": source.get("Metadata", {}), "MetadataDirective": "REPLACE"}
        for field in ("ContentType", "ContentDisposition"):
            if source.get(field):
                extra[field] = source[field]
        try:
            self.client.copy(
                {"Bucket": self.bucket, "Key": remote_id},
                self.bucket,
                remote_path,
                ExtraArgs=extra,
                Config=self.transfer_config(source["ContentLength"]),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, remote_id) from exc
        return Relocated(remote_path, leftover=remote_id)

    def cancel_session(self, session_url) -> None:
        """Uploads are not resumed across attempts: there is no session to give up."""

    def redirect_url(self, remote_id) -> str | None:
        if self.channel.serve_mode != "redirect":
            return None
        if self.public_base_url:
            return f"{self.public_base_url}/{quote(remote_id)}"
        try:
            return self.storage.url(remote_id, expire=settings.IMGBED_DOWNLOAD_URL_TTL)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, remote_id) from exc

    def open_range(self, remote_id, start, end):
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=remote_id, Range=f"bytes={start}-{end}")
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, remote_id) from exc
        body = response["Body"]
        # A server that ignores Range sends the whole object from byte 0.
        skip = start if "ContentRange" not in response else 0

        def chunks():
            remaining = end - start + 1
            to_skip = skip
            try:
                for data in body.iter_chunks(CHUNK):
                    if to_skip:
                        dropped = min(to_skip, len(data))
                        data, to_skip = data[dropped:], to_skip - dropped
                    if not data:
                        continue
                    data = data[:remaining]
                    remaining -= len(data)
                    yield data
                    if remaining <= 0:
                        break
            except (BotoCoreError, OSError) as exc:
                raise TransientError(
                    f"Reading {remote_id} from bucket {self.bucket} at {self.where} broke off. Will retry.",
                    code="ioError",
                ) from exc
            finally:
                body.close()

        return chunks()

    def delete(self, remote_id) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=remote_id)
        except ClientError as exc:
            if _code(exc) == "NoSuchKey":
                return
            raise self._error(exc, remote_id) from exc
        except BotoCoreError as exc:
            raise self._error(exc, remote_id) from exc

    def list_items(self):
        """The objects under the key prefix, a page of list_objects_v2 at a time. S3 has no folders:
        keys come in their byte order. An ETag is no SHA-256 (nor an MD5 for multipart objects), so
        no hash is given."""
        prefix = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue  # a "folder" placeholder some tools make
                    yield ListedItem(
                        path=key, remote_id=key, size=obj["Size"], modified=obj.get("LastModified")
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from exc

    def quota(self) -> Quota:
        """S3 reports no quota: the staff-set capacity and the bytes this site stored here."""
        capacity = self.channel.capacity
        used = self.channel.stored_bytes
        remaining = max(0, capacity - used) if capacity else None
        return Quota(total=capacity, used=used, remaining=remaining)

    def check(self) -> str:
        """Put a small object under the key prefix, read it back and delete it."""
        key = f"{self.prefix or 'imgbed'}/.imgbed-check-{uuid.uuid4().hex}"
        data = b"imgbed connection check\n"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="text/plain")
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from exc
        try:
            if b"".join(self.open_range(key, 0, len(data) - 1)) != data:
                raise PermanentError(
                    f"A test object written to bucket {self.bucket} at {self.where} read back differently.",
                    code="ioError",
                )
        finally:
            self.delete(key)
        return (
            f"wrote, read back and deleted a test object under {self.prefix or 'imgbed'}/ "
            f"in bucket {self.bucket} at {self.where}"
        )

    def _error(self, exc, key=""):
        """The words for what went wrong, in the split callers act on. Never the secret key."""
        if isinstance(exc, S3UploadFailedError):
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError | BotoCoreError):
                exc = cause
        bucket, where = self.bucket, self.where
        if isinstance(exc, ClientError):
            code, status = _code(exc), _status(exc)
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "NoSuchBucket":
                return PermanentError(
                    f"The bucket {bucket} does not exist at {where}. Create it there (this site does not "
                    "create buckets), or fix the bucket name or the endpoint URL in the channel's settings.",
                    code="bucketNotFound",
                )
            if code in ("InvalidAccessKeyId", "InvalidToken"):
                return PermanentError(
                    f"{where} does not know the access key ID {self.access_key_id}. Fix the access key ID "
                    "(and its secret access key) in the channel's settings.",
                    code="accessDenied",
                )
            if code == "SignatureDoesNotMatch":
                return PermanentError(
                    f"{where} refused the secret access key of the access key ID {self.access_key_id}. "
                    "Paste the secret access key again in the channel's settings.",
                    code="accessDenied",
                )
            if code in QUOTA_CODES or (
                status == 403 and any(words in message.lower() for words in QUOTA_WORDS)
            ):
                said = f"{code}: {message}" if message else code
                return PermanentError(
                    f"Bucket {bucket} at {where} refused the object: a storage limit of the account is "
                    f"reached ({said}). Free space there, raise the limit or add another channel.",
                    code="quotaLimitReached",
                )
            if code in ("AccessDenied", "AllAccessDisabled", "AccountProblem", "Forbidden") or status == 403:
                return PermanentError(
                    f"{where} refused the access key ID {self.access_key_id} for bucket {bucket}. Check the "
                    "access key ID and secret access key, and give the key permission to list the bucket "
                    f"and to read, write and delete objects in {bucket}.",
                    code="accessDenied",
                )
            if code == "EntityTooLarge":
                return PermanentError(
                    f"Bucket {bucket} at {where} refused {key}: the object is larger than it accepts.",
                    code="fileTooLarge",
                )
            if code in ("NoSuchKey", "NotFound") or status == 404:
                return PermanentError(
                    f"The object {key} is missing from bucket {bucket} at {where}.", code="itemNotFound"
                )
            if code in BAD_CONFIG_CODES:
                if code == "InvalidBucketName":
                    advice = "Fix the bucket name in the channel's settings."
                elif code == "NotImplemented":
                    advice = "The server does not support a request this site makes; check the endpoint URL."
                else:
                    advice = (
                        "The bucket is in another region than the one set for this channel: set the "
                        "bucket's region, or the endpoint URL of that region."
                    )
                return PermanentError(
                    f"{where} refused the request for bucket {bucket} ({code}). {advice}", code="badConfig"
                )
            if code in TRANSIENT_CODES or status in (429, 408) or status >= 500:
                return TransientError(
                    f"{where} answered {status} {code} for bucket {bucket}. Will retry.",
                    retry_after=_retry_after(exc),
                    code="serviceNotAvailable" if status >= 500 else "throttled",
                )
            return PermanentError(
                f"{where} refused the request for {key or bucket} in bucket {bucket}: {status} {code}"
                + (f" ({message})" if message else "")
                + ".",
                code=code or "badRequest",
            )
        if isinstance(exc, ParamValidationError | NoCredentialsError | PartialCredentialsError):
            return PermanentError(
                f"The settings of the S3 channel {self.channel.name} cannot make a request: {exc}. "
                "Fix them in the admin.",
                code="badConfig",
            )
        if isinstance(exc, ConnectionError | HTTPClientError):
            return TransientError(f"Cannot reach {where}: {exc}. Will retry.", code="connectionError")
        return TransientError(
            f"Talking to {where} for bucket {bucket} failed: {exc}. Will retry.", code="s3Error"
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _retry_after(exc: ClientError) -> float | None:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class _Counting:
    """The staged stream as upload_fileobj reads it, hashed and counted on the way.

    It has no seek or tell, so boto3 reads it once, front to back, a part at a time."""

    def __init__(self, open_stream):
        self._open_stream = open_stream
        self._context = None
        self._fh = None
        self.digest = hashlib.sha256()
        self.read_bytes = 0

    def __enter__(self):
        self._context = self._open_stream(0)
        self._fh = self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def read(self, n=-1):
        data = self._fh.read(n)
        self.digest.update(data)
        self.read_bytes += len(data)
        return data
