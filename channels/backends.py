"""The interface every channel kind implements, and how to get one for a channel.

Callers (the upload pipeline, file serving) see only this: store a stream at
a path, serve it (a redirect or a ranged read), delete, read quota. Errors are
channels.errors.TransientError (retry later) or PermanentError (a person
must act).
"""

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from channels import kinds


@dataclass
class RemoteFile:
    remote_id: str
    size: int
    quickxorhash: str = ""


@dataclass
class Relocated:
    """Where relocate() put a file: its remote id now, and the old copy still to delete (None
    when the item itself moved)."""

    remote_id: str
    leftover: str | None = None


@dataclass
class ListedItem:
    """A file a channel holds, as its listing shows it."""

    path: str  # the remote path: root directory / folders / name
    remote_id: str  # what open_range() and delete() take: the path, or the item's id (OneDrive)
    size: int
    modified: datetime.datetime | None
    quickxorhash: str = ""  # OneDrive's own hash, when it gives one
    sha256: str = ""  # only when the channel reports a real SHA-256 of the bytes


@dataclass
class Quota:
    """Space as a channel reports it; None where it says nothing."""

    total: int | None
    used: int | None
    remaining: int | None
    deleted: int | None = None
    state: str = ""


class Backend(Protocol):
    def store(
        self,
        remote_path: str,
        open_stream: Callable[[int], BinaryIO],
        size: int,
        *,
        session_url: str | None,
        on_session: Callable[[str | None], None],
    ) -> RemoteFile: ...

    def cancel_session(self, session_url: str) -> None:
        """Give up a resumable upload begun by store() (best effort)."""

    def redirect_url(self, remote_id: str) -> str | None:
        """Where to send a browser for the file, when this channel serves by redirect; None to proxy."""

    # Optional, for kinds whose files sit on this host's disk:
    # def local_path(self, remote_id: str) -> pathlib.Path

    # Optional, for kinds with folders (a moved or renamed file follows its id there):
    # def relocate(self, remote_id: str, remote_path: str) -> Relocated
    #     Make the file at remote_id available at remote_path, never replacing another file
    #     (PermanentError nameAlreadyExists). A copy leaves the old one as `leftover`, so that
    #     reads already under way finish; the caller deletes it once the row points at the new.

    def open_range(self, remote_id: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive) of the file, exactly."""

    def delete(self, remote_id: str) -> None:
        """Remove the file; already gone is success."""

    def quota(self) -> Quota: ...

    def list_items(self) -> Iterator[ListedItem]:
        """Every file under the channel's root directory, folders walked recursively, in name order
        within a folder. Nothing is skipped here: hidden and temporary names are the caller's to judge.
        A root directory that does not exist yet holds no files."""

    def check(self) -> str:
        """Prove the channel works end to end; returns what was done, in words."""


def backend_for(channel) -> Backend:
    return kinds.backend_class(channel.kind)(channel)
