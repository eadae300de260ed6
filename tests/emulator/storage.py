"""Where the emulator keeps uploaded file bytes: a temp directory by default,
so a 1 GiB test upload does not sit in RAM, or memory when asked.

Hashes are computed while the bytes arrive (uploads are strictly in order),
so committing a large upload never re-reads it.
"""

import hashlib
import io
import os
import shutil
import tempfile
import threading
from typing import BinaryIO

from channels.quickxorhash import QuickXorHash


class Blob:
    """Immutable stored content with the hashes Graph reports."""

    def __init__(self, size: int, quickxorhash: str, sha1: str, sha256: str, path=None, data=None):
        self.size = size
        self.quickxorhash = quickxorhash
        self.sha1 = sha1
        self.sha256 = sha256
        self._path = path
        self._data = data

    def open(self) -> BinaryIO:
        if self._path is not None:
            return open(self._path, "rb")
        return io.BytesIO(self._data)

    def read_bytes(self) -> bytes:
        with self.open() as f:
            return f.read()

    def delete(self) -> None:
        if self._path is not None:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
        self._data = None


class BlobWriter:
    """Appends bytes and hashes them; a fragment that breaks off midway is rolled back."""

    def __init__(self, path: str | None):
        self._path = path
        self._file = open(path, "w+b") if path else io.BytesIO()
        self.size = 0
        self._qxh = QuickXorHash()
        self._sha1 = hashlib.sha1()  # Graph reports it; nothing here relies on it
        self._sha256 = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.size += len(chunk)
        self._qxh.update(chunk)
        self._sha1.update(chunk)
        self._sha256.update(chunk)

    def checkpoint(self):
        return (self.size, self._qxh.copy(), self._sha1.copy(), self._sha256.copy())

    def rollback(self, checkpoint) -> None:
        self.size, self._qxh, self._sha1, self._sha256 = checkpoint
        self._file.seek(self.size)
        self._file.truncate()

    def commit(self) -> Blob:
        blob_args = dict(
            size=self.size,
            quickxorhash=self._qxh.b64digest(),
            sha1=self._sha1.hexdigest().upper(),
            sha256=self._sha256.hexdigest().upper(),
        )
        if self._path:
            self._file.close()
            return Blob(path=self._path, **blob_args)
        data = self._file.getvalue()
        self._file.close()
        return Blob(data=data, **blob_args)

    def discard(self) -> None:
        self._file.close()
        if self._path:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass


class BlobStore:
    def __init__(self, directory: str | None = None, in_memory: bool = False):
        self.in_memory = in_memory
        self._owned = False
        self._directory = directory
        self._counter = 0
        self._lock = threading.Lock()

    @property
    def directory(self) -> str | None:
        if self.in_memory:
            return None
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="graph-emulator-blobs-")
            self._owned = True
        return self._directory

    def writer(self) -> BlobWriter:
        if self.in_memory:
            return BlobWriter(None)
        with self._lock:
            self._counter += 1
            name = f"blob-{os.getpid()}-{self._counter}"
        return BlobWriter(os.path.join(self.directory, name))

    def put(self, data: bytes) -> Blob:
        w = self.writer()
        w.write(data)
        return w.commit()

    def close(self) -> None:
        if self._owned and self._directory:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
            self._owned = False
