"""Sending a large file on to its channel while the request is still bringing it in.

Otherwise a person waits for two transfers one after the other: theirs to
this site, then the worker's to the channel. When the request declares its
length and the file is the body's first part, the file's size follows from
the first bytes. The view then creates the row early, marked `receiving`,
and enqueues its task; the worker sends fragments as they land in staging
and holds the last one back until the view has checked the whole file and
cleared the mark. Nothing is stored at the channel before that: if the
guess was wrong the worker starts again with the real size, and if the
request fails the row goes and the worker cancels its upload session.

Only for a staging storage on local disk, where a worker can read a file
while it grows.
"""

import os
import re
import time

from django.conf import settings
from django.http.multipartparser import MultiPartParser
from django.utils import timezone
from django.utils.http import parse_header_parameters

from channels.errors import PermanentError
from uploads import staging
from uploads.models import StoredFile

# Enough for the first part's headers, however long the file name.
PREFIX_BYTES = 64 * 1024
FILE_POLL = 0.02  # how often a waiting worker looks whether the file grew
ROW_POLL = 0.1  # ... and whether the request has finished


class SizeChanged(PermanentError):
    """The file's real size differs from the one guessed: upload it again with the real one."""

    def __init__(self, size):
        super().__init__(
            f"The file turned out to hold {size} bytes, not the size expected.", code="sizeChanged"
        )
        self.size = size


class Abandoned(PermanentError):
    """The request bringing the file in failed or went quiet: there is nothing to upload."""

    def __init__(self, message):
        super().__init__(message, code="abandoned")


def expected_size(prefix: bytes, content_type: str, content_length: int, field: str) -> int | None:
    """The size of the file in `field` when it is the first part of the body and the
    body ends right after it (as browsers, curl, PicGo and ShareX send one file);
    None when the start of the body does not look like that. A guess all the same:
    the worker checks it against what the request received in the end."""
    _, params = parse_header_parameters(content_type)
    boundary = params.get("boundary", "").encode("latin-1")
    if not boundary:
        return None
    opening = b"--" + boundary + b"\r\n"
    if not prefix.startswith(opening):
        return None
    end = prefix.find(b"\r\n\r\n", len(opening))
    if end < 0:
        return None
    headers = prefix[len(opening) : end].decode("latin-1")
    disposition = re.search(r"(?im)^content-disposition:(.*)$", headers)
    if not disposition:
        return None
    _, options = parse_header_parameters("x;" + disposition.group(1))
    if options.get("name") != field or "filename" not in options:
        return None
    closing = len(b"\r\n--" + boundary + b"--\r\n")
    size = content_length - (end + 4) - closing
    return size if size > 0 else None


class PrefixedStream:
    """The request body again, with the bytes already read from it put back in front."""

    def __init__(self, prefix: bytes, rest):
        self._prefix = prefix
        self._rest = rest

    def read(self, size=-1):
        if self._prefix:
            if size is None or size < 0:
                data, self._prefix = self._prefix + self._rest.read(), b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._rest.read(size)


class EarlyStart:
    """The view's side: reads the start of the body and, once the file's first bytes
    are staged, has the row created (by `create(handler, expected_size)`)."""

    def __init__(self, request, handler, prefix: bytes, expected: int | None, create):
        self.request = request
        self.prefix = prefix
        self.expected = expected
        self.row = None
        self.finished = False
        self._create = create
        handler.on_first_chunk = self._on_first_chunk

    @classmethod
    def for_request(cls, request, handler, create) -> "EarlyStart | None":
        """None when the request is not worth starting early (small, or staging not on local disk)."""
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if (
            not settings.IMGBED_EARLY_START
            or declared <= 2 * settings.IMGBED_FRAGMENT_SIZE
            or not staging.is_local()
        ):
            return None
        prefix = request.read(min(PREFIX_BYTES, declared))
        expected = expected_size(prefix, request.META.get("CONTENT_TYPE", ""), declared, handler.wanted_field)
        return cls(request, handler, prefix, expected, create)

    def parse(self):
        """The files of the body (the bytes read for the guess included)."""
        stream = PrefixedStream(self.prefix, self.request)
        request = self.request
        _, files = MultiPartParser(request.META, stream, request.upload_handlers, request.encoding).parse()
        return files

    def _on_first_chunk(self, handler):
        if self.expected is not None and self.expected > 2 * settings.IMGBED_FRAGMENT_SIZE:
            self.row = self._create(handler, self.expected)

    def finish(self, received):
        """The row, now with the real size and hash, released to the worker for its last
        fragment; None when it was given up on meanwhile. The staged file stays where it is."""
        updated = (
            StoredFile.objects.filter(pk=self.row.pk, receiving=True)
            .exclude(status=StoredFile.Status.DELETED)
            .update(receiving=False, size=received.size, sha256=received.sha256, updated_at=timezone.now())
        )
        self.finished = bool(updated)
        if not updated:
            return None
        received.keep()
        self.row.refresh_from_db()
        return self.row

    def abandon(self):
        """The request failed: the row goes (a worker that started cancels its session)."""
        self.finished = True
        if self.row is not None:
            StoredFile.objects.filter(pk=self.row.pk, receiving=True).delete()


class ReceivingReader:
    """The staged file of a `receiving` row, read while the request is still writing it.

    A read waits until its bytes are on disk. The read that would reach the
    last byte also waits for the request to finish, so the final fragment (the
    one that makes the channel commit the file) goes only with the file
    complete and checked. `on_wait` is called while waiting (to extend the claim).
    """

    def __init__(self, fh, offset: int, file_id: int, expected: int, stall_after: float, on_wait=None):
        self._fh = fh
        self._position = offset
        self._file_id = file_id
        self._expected = expected
        self._stall_after = stall_after
        self._on_wait = on_wait or (lambda: None)
        self._complete = False
        self._row_checked = 0.0

    def read(self, size=-1):
        if size is None or size < 0:
            size = self._expected - self._position
        self._wait_for(size)
        data = self._fh.read(size)
        self._position += len(data)
        return data

    def readinto(self, buffer):
        self._wait_for(len(buffer))
        got = self._fh.readinto(buffer)
        self._position += got
        return got

    def _wait_for(self, size):
        while not self._complete:
            end = self._position + size
            stat = os.fstat(self._fh.fileno())
            if end < self._expected and end <= stat.st_size:
                break
            now = time.monotonic()
            if now - self._row_checked >= ROW_POLL:
                self._row_checked = now
                self._check_row()
                if self._complete:
                    break
                if time.time() - stat.st_mtime > self._stall_after:
                    raise Abandoned(
                        f"The request bringing the file in sent nothing for {self._stall_after:.0f} s."
                    )
                self._on_wait()
            time.sleep(FILE_POLL)

    def _check_row(self):
        row = StoredFile.objects.filter(pk=self._file_id).values("receiving", "size", "status").first()
        if row is None or row["status"] in (StoredFile.Status.DELETED, StoredFile.Status.FAILED):
            raise Abandoned("The request bringing the file in failed.")
        if not row["receiving"]:
            if row["size"] != self._expected:
                raise SizeChanged(row["size"])
            self._complete = True

    def close(self):
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
