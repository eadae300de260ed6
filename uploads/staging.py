"""The staging area: where an upload's bytes wait until a worker has stored them.

It is a Django storage (local disk by default, S3 when web and workers run
on different machines). The request body is streamed straight into it by
an upload handler that hashes and measures the bytes as they arrive, so a
large file is written to disk once and never held in memory.
"""

import datetime
import errno
import hashlib
import io
import os
import re
import sys
import tempfile
import uuid

from django.core.files.storage import FileSystemStorage, storages
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.utils import timezone

SNIFF_BYTES = 8192


class FileTooLarge(Exception):
    def __init__(self, limit):
        super().__init__(limit)
        self.limit = limit


class StagingFull(Exception):
    """The disk under the staging folder is full: the file cannot be taken in."""


def _full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def storage():
    return storages["staging"]


def is_local() -> bool:
    """Staging is a folder on this machine (a worker can read a file while it is written)."""
    return isinstance(storage(), FileSystemStorage)


def _local_dir():
    """A folder on the same filesystem as the staging storage, so a finished file is renamed, not copied."""
    store = storage()
    if isinstance(store, FileSystemStorage):
        path = os.path.join(store.location, ".incoming")
        os.makedirs(path, exist_ok=True)
        return path
    return None


class StagedFile(UploadedFile):
    """The received file: on disk at `temp_path`, with its size, sha256 and first bytes.

    Nothing reads it back in the request (the head was kept on the way in), so
    it is not opened again: commit() moves it into the staging storage by name.
    """

    def __init__(self, temp_path, name, content_type, size, sha256, head):
        super().__init__(None, name, content_type, size)
        self.temp_path = temp_path
        self.sha256 = sha256
        self.head = head
        self._kept = False

    def keep(self):
        """The file stays where it is, as the staged copy (discard() leaves it)."""
        self.close()
        self._kept = True

    def open(self, mode="rb"):
        self.file = open(self.temp_path, mode)  # noqa: SIM115
        return self

    def close(self):
        if self.file is not None:
            self.file.close()

    def discard(self):
        self.close()
        if self._kept:
            return
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass


class StagingUploadHandler(FileUploadHandler):
    """Accepts the multipart field `file` only, writing it to disk as it streams in."""

    chunk_size = 1024 * 1024

    def __init__(self, request, max_size: int, field_name: str = "file"):
        super().__init__(request)
        self.max_size = max_size
        self.wanted_field = field_name
        # Called once with the handler when the file's first chunk is on disk.
        self.on_first_chunk = None
        self._out = None
        self._complete = False

    def new_file(
        self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None
    ):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        if field_name != self.wanted_field or self._out is not None:
            raise SkipFile()
        fd, self._path = tempfile.mkstemp(prefix="upload-", dir=_local_dir())
        self._out = os.fdopen(fd, "wb")
        self._sha = hashlib.sha256()
        self._size = 0
        self._head = bytearray()

    def receive_data_chunk(self, raw_data, start):
        if self._out is None:
            return raw_data
        self._size += len(raw_data)
        if self._size > self.max_size:
            self.abandon()
            raise FileTooLarge(self.max_size)
        if len(self._head) < SNIFF_BYTES:
            self._head += raw_data[: SNIFF_BYTES - len(self._head)]
        self._sha.update(raw_data)
        try:
            self._out.write(raw_data)
            if self.on_first_chunk is not None:
                callback, self.on_first_chunk = self.on_first_chunk, None
                self._out.flush()
                callback(self)
        except OSError as exc:
            self._give_up_if_full(exc)
            raise
        return None

    def _give_up_if_full(self, exc: OSError):
        if _full(exc):
            self.abandon()
            raise StagingFull(str(exc)) from exc

    @property
    def cut_short(self) -> bool:
        """The file's part began but the body ended before it did."""
        return self._out is not None and not self._complete

    @property
    def head(self) -> bytes:
        """The file's first bytes received so far (up to SNIFF_BYTES)."""
        return bytes(self._head)

    @property
    def staged_name(self) -> str:
        """The file's name in the staging storage while it is being received."""
        return os.path.relpath(self._path, storage().location)

    def file_complete(self, file_size):
        if self._out is None:
            return None
        try:
            self._out.close()  # writes what is buffered: the disk may fill here
        except OSError as exc:
            self._give_up_if_full(exc)
            raise
        self._complete = True
        return StagedFile(
            self._path,
            self.file_name,
            self.content_type,
            self._size,
            self._sha.hexdigest(),
            bytes(self._head),
        )

    def upload_interrupted(self):
        self.abandon()

    def abandon(self):
        """Drop the partly received file (not one already handed over as a StagedFile)."""
        if self._out is None or self._complete:
            return
        if not self._out.closed:
            try:
                self._out.close()
            except OSError:
                pass  # a full disk: the bytes it could not write go with the file
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass


def commit(staged: StagedFile) -> str:
    """Move a received file into the staging storage; returns its name there."""
    name = uuid.uuid4().hex
    store = storage()
    staged.close()
    if isinstance(store, FileSystemStorage):
        os.replace(staged.temp_path, store.path(name))
        return name
    with open(staged.temp_path, "rb") as fh:
        name = store.save(name, fh)
    os.unlink(staged.temp_path)
    return name


def _s3_storage(store):
    """The storage as a django-storages S3Storage, or None when it is something else.

    Nothing is imported here: an S3 storage has loaded its module already, and boto3 and
    django-storages (some 10 MiB) stay out of processes that stage on local disk."""
    s3 = sys.modules.get("storages.backends.s3")
    return store if s3 is not None and isinstance(store, s3.S3Storage) else None


def open_at(name: str, offset: int = 0):
    """The staged file opened for reading from byte `offset`.

    On S3 that is one GET of the bytes from `offset` on (`Range: bytes=offset-`),
    read as it streams: django-storages' own S3File would download the whole
    object first, and a resumed upload needs only the rest."""
    store = storage()
    s3 = _s3_storage(store)
    if s3 is not None:
        return S3Reader(s3, name, offset)
    fh = store.open(name, "rb")
    if offset:
        fh.seek(offset)
    return fh


def open_if_present(name: str, offset: int = 0):
    """The staged file opened for reading (from `offset`), or None when it is not (or no longer) there.

    Opening is the check: between a separate exists() and open() a worker may
    store the file and remove its staged copy. An open file stays readable on
    local disk even once removed; on S3 the GET made here is the check, and a
    GET under way is served to its end even if the object is deleted."""
    if not name:
        return None
    try:
        return open_at(name, offset)
    except FileNotFoundError:
        return None


_STREAM_RETRIES = 3


class S3Reader(io.RawIOBase):
    """A staged S3 object read forward from an offset, through boto3's StreamingBody.

    One GET (ranged unless from byte 0) is made when it opens: a missing object is
    FileNotFoundError then, as for a file on disk. The bytes are read as they come,
    never downloaded ahead into a temporary file. seek() to another position ends
    that GET and the next read makes a new one from there; a connection that breaks
    mid-read is picked up by a new ranged GET from the byte it stopped at."""

    def __init__(self, store, name: str, offset: int = 0):
        from storages.utils import clean_name

        super().__init__()
        self.name = name
        self._client = store.connection.meta.client
        self._bucket = store.bucket_name
        self._key = store._normalize_name(clean_name(name))
        # Encryption keys and the like, as S3File sends them (AWS_S3_OBJECT_PARAMETERS).
        allowed = _download_args()
        self._params = {k: v for k, v in store.get_object_parameters(name).items() if k in allowed}
        self._position = offset
        self._body = None
        self.size = None
        self._get()

    def _get(self):
        from botocore.exceptions import ClientError

        request = {"Bucket": self._bucket, "Key": self._key, **self._params}
        if self._position:
            request["Range"] = f"bytes={self._position}-"
        try:
            answer = self._client.get_object(**request)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            if status == 404 or code in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"The staged file {self.name} is not in the bucket.") from None
            if status == 416 or code == "InvalidRange":
                # At (or past) the end: nothing left to read.
                self._body = io.BytesIO()
                return
            raise
        self._body = answer["Body"]
        total = re.search(r"/(\d+)$", answer.get("ContentRange") or "")
        self.size = int(total.group(1)) if total else self._position + answer["ContentLength"]

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._position

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            if self.size is None:
                raise io.UnsupportedOperation("the staged file's size is not known")
            offset += self.size
        if offset < 0:
            raise ValueError(f"negative seek position {offset}")
        if offset != self._position:
            self._drop()
            self._position = offset
        return self._position

    def readinto(self, buffer):
        from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

        for attempt in range(_STREAM_RETRIES + 1):
            if self._body is None:
                self._get()
            try:
                got = self._body.readinto(buffer)
            except (ResponseStreamingError, ReadTimeoutError, IncompleteReadError, OSError):
                # The connection broke: the object is read again from where it stopped.
                self._drop()
                if attempt == _STREAM_RETRIES:
                    raise
                continue
            self._position += got
            return got
        return 0  # not reached

    def read(self, size=-1):
        if size is None or size < 0:
            return self.readall()
        buffer = bytearray(size)
        got = self.readinto(buffer)
        del buffer[got:]
        return bytes(buffer)

    def readall(self):
        chunks = []
        while chunk := self.read(1024 * 1024):
            chunks.append(chunk)
        return b"".join(chunks)

    def _drop(self):
        if self._body is not None:
            # Unread bytes are not drained: the connection is closed, not returned to the pool.
            self._body.close()
            self._body = None

    def close(self):
        self._drop()
        super().close()


def _download_args():
    import s3transfer.constants

    return set(s3transfer.constants.ALLOWED_DOWNLOAD_ARGS)


def remove(name: str) -> None:
    if name:
        storage().delete(name)


def exists(name: str) -> bool:
    return bool(name) and storage().exists(name)


def _modified(store, name):
    modified = store.get_modified_time(name)
    return modified if modified.tzinfo is not None else modified.replace(tzinfo=datetime.UTC)


def modified_since(name: str, moment) -> bool:
    """The staged file exists and was written after `moment`."""
    return exists(name) and _modified(storage(), name) > moment


# The names commit() gives staged files. In a bucket (or under a prefix) shared with
# anything else, only these are ever taken for orphans.
_STAGED_NAME = re.compile(r"^[0-9a-f]{32}$")


def _staged_files(store):
    """(name, modified) of the staged files, those being received included (on local disk);
    modified is None where only the storage can tell (asked for the unreferenced ones only)."""
    s3 = _s3_storage(store)
    if s3 is not None:
        # One listing gives each object's time: no HEAD per object. The location's own
        # objects only, not those in folders below it.
        prefix = s3._normalize_name("")
        prefix = f"{prefix}/" if prefix and not prefix.endswith("/") else prefix
        pages = s3.connection.meta.client.get_paginator("list_objects_v2").paginate(
            Bucket=s3.bucket_name, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for entry in page.get("Contents", ()):
                name = entry["Key"][len(prefix) :]
                if _STAGED_NAME.match(name):
                    yield name, entry["LastModified"]
        return
    local = isinstance(store, FileSystemStorage)
    for folder in [""] + ([".incoming"] if local else []):
        try:
            _, files = store.listdir(folder)
        except FileNotFoundError:
            continue
        for name in files:
            if not local and not _STAGED_NAME.match(name):
                continue
            yield (f"{folder}/{name}" if folder else name), None


def remove_orphans(referenced: set, older_than) -> int:
    """Delete staged files no row refers to (and abandoned partial uploads) older than `older_than`."""

    store = storage()
    cutoff = timezone.now() - older_than
    removed = 0
    for path, modified in list(_staged_files(store)):
        if path in referenced:
            continue
        if modified is None:
            modified = _modified(store, path)
        elif modified.tzinfo is None:
            modified = modified.replace(tzinfo=datetime.UTC)
        if modified < cutoff:
            store.delete(path)
            removed += 1
    return removed
