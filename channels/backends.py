"""The interface every channel kind implements, and how to get one for a channel.

Callers (the upload pipeline, file serving) see only this: store a stream at
a path, hand out a download URL, delete, read quota. Errors are
channels.errors.TransientError (retry later) or PermanentError (a person
must act).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol


@dataclass
class RemoteFile:
    remote_id: str
    size: int
    quickxorhash: str = ""


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

    def download_url(self, remote_id: str) -> str: ...

    def delete(self, remote_id: str) -> None: ...


def backend_for(channel) -> Backend:
    if channel.kind == "onedrive":
        from channels.onedrive.backend import OneDriveBackend

        return OneDriveBackend(channel)
    raise ValueError(f"No backend for channel kind {channel.kind!r}")
