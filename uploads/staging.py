"""The staging area: where an upload's bytes wait until a worker has stored them.

It is a Django storage (local disk by default, S3 when web and workers run
on different machines). The request body is streamed straight into it by
an upload handler that hashes and measures the bytes as they arrive, so a
large file is written to disk once and never held in memory.
"""

import datetime
import hashlib
import os
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
        self._out.write(raw_data)
        if self.on_first_chunk is not None:
            callback, self.on_first_chunk = self.on_first_chunk, None
            self._out.flush()
            callback(self)
        return None

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
        self._out.close()
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
        """Drop the partly received file."""
        if self._out is not None and not self._out.closed:
            self._out.close()
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


def open_at(name: str, offset: int = 0):
    fh = storage().open(name, "rb")
    if offset:
        fh.seek(offset)
    return fh


def open_if_present(name: str):
    """The staged file opened for reading, or None when it is not (or no longer) there.

    Opening is the check: between a separate exists() and open() a worker may
    store the file and remove its staged copy. An open file stays readable on
    local disk even once removed."""
    if not name:
        return None
    try:
        return storage().open(name, "rb")
    except FileNotFoundError:
        return None


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


def remove_orphans(referenced: set, older_than) -> int:
    """Delete staged files no row refers to (and abandoned partial uploads) older than `older_than`."""

    store = storage()
    cutoff = timezone.now() - older_than
    removed = 0
    folders = [""] + ([".incoming"] if isinstance(store, FileSystemStorage) else [])
    for folder in folders:
        try:
            _, files = store.listdir(folder)
        except FileNotFoundError:
            continue
        for name in files:
            path = f"{folder}/{name}" if folder else name
            if path in referenced:
                continue
            if _modified(store, path) < cutoff:
                store.delete(path)
                removed += 1
    return removed
