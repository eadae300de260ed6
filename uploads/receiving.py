"""The worker's side of an early start: reading a staged file while the request
still writes it (see uploads.early_start for the view's side)."""

import os
import time

from channels.errors import PermanentError
from uploads.models import StoredFile

FILE_POLL = 0.02  # how often a waiting worker looks whether the file grew
ROW_POLL = 0.05  # ... and whether the request has finished (the last fragment waits on it)


class SizeChanged(PermanentError):
    """The file's real size differs from the one guessed: upload it again with the real one."""

    def __init__(self, size):
        super().__init__(
            f"The file turned out to hold {size} bytes, not the size expected.", code="sizeChanged"
        )


class Abandoned(PermanentError):
    """The request bringing the file in failed: there is nothing to upload."""

    def __init__(self, message):
        super().__init__(message, code="abandoned")


class Stalled(Exception):
    """The request brings the file in too slowly to send it on as it arrives (a worker would
    sit waiting on it): the worker lets it go. Not a channel error, so the upload session is
    kept, and whoever takes the file once it is all in goes on from where this one stopped."""

    def __init__(self, seconds):
        super().__init__(f"No new bytes for {seconds:.0f} s: the rest goes once the file has arrived.")


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
                    raise Stalled(self._stall_after)
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
