"""Sending a large file on to its channel while the request is still bringing it in.

Otherwise a person waits for two transfers one after the other: theirs to
this site, then the worker's to the channel. When the request declares its
length and the file is the body's first part, the file's size follows from
the first bytes. The view then creates the row early, marked `receiving`,
and enqueues its task; the worker sends fragments as they land in staging
and holds the last one back until the view has checked the whole file and
cleared the mark. Nothing is stored at the channel before that: if the
guess was wrong the worker starts again with the real size, and if the
request fails the row goes and the worker cancels its upload session. A
request that brings the bytes in too slowly is let go by its worker, and the
file goes the usual way once it is all in (uploads.receiving is the
worker's side).

Only for a staging storage on local disk, where a worker can read a file
while it grows, and only IMGBED_EARLY_START_MAX at a time: each holds a
worker while the person's upload lasts.
"""

import datetime
import re

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.http import parse_header_parameters

from uploads import staging
from uploads.models import StoredFile
from uploads.multipart import parse_files
from uploads.tasks import send_after_commit, upload_to_channel

# Enough for the first part's headers, however long the file name.
PREFIX_BYTES = 64 * 1024


def expected_size(prefix: bytes, content_type: str, content_length: int, field: str) -> int | None:
    """The size of the file in `field` when it is the first part of the body and the
    body ends right after it (as browsers, curl, PicGo and ShareX send one file);
    None when the start of the body does not look like that. A guess all the same:
    the worker checks it against what the request received in the end."""
    _, params = parse_header_parameters(content_type)
    try:
        boundary = params.get("boundary", "").encode("latin-1")
    except UnicodeEncodeError:
        return None  # not a boundary a body can carry; the parser refuses it
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
        """None when the request is not worth starting early: small, staging not on local disk,
        or tasks run eagerly (in this very request, which the task would wait for)."""
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if (
            not settings.IMGBED_EARLY_START_MAX
            or declared <= 2 * settings.IMGBED_FRAGMENT_SIZE
            or not staging.is_local()
            or getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
        ):
            return None
        prefix = request.read(min(PREFIX_BYTES, declared))
        expected = expected_size(prefix, request.META.get("CONTENT_TYPE", ""), declared, handler.wanted_field)
        return cls(request, handler, prefix, expected, create)

    def parse(self):
        """The files of the body (the bytes read for the guess included)."""
        return parse_files(self.request, PrefixedStream(self.prefix, self.request))

    def _on_first_chunk(self, handler):
        if self.expected is None or self.expected <= 2 * settings.IMGBED_FRAGMENT_SIZE:
            return
        if in_flight() >= settings.IMGBED_EARLY_START_MAX:
            return  # each holds a worker while the person's upload lasts: the rest wait for the end
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
        # A worker that gave the early start up (or never got it) takes it now; one that is
        # still sending ignores this, the claim being taken.
        send_after_commit(upload_to_channel, self.row.pk)
        self.row.refresh_from_db()
        return self.row

    def abandon(self):
        """The request failed: the row goes (a worker that started cancels its session)."""
        self.finished = True
        if self.row is not None:
            StoredFile.objects.filter(pk=self.row.pk, receiving=True).delete()


def in_flight() -> int:
    """Early starts that hold a worker now, or are about to."""
    now = timezone.now()
    holding = Q(status=StoredFile.Status.UPLOADING, claimed_until__gt=now)
    starting = Q(status=StoredFile.Status.PENDING, created_at__gt=now - datetime.timedelta(seconds=30))
    return StoredFile.objects.filter(holding | starting, receiving=True).count()
