"""The record of every request the emulator answered, for assertions such as
"no byte range was sent twice" or "the retry waited for Retry-After"."""

import re
import threading
from dataclasses import dataclass, field

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class LoggedRequest:
    monotonic: float  # time.monotonic() when the request line was read
    wall: float  # time.time() at the same moment
    method: str
    path: str
    query: str
    kind: str  # token, authorize, discovery, graph, upload_url, download, other
    status: int  # 0 when the connection was dropped on purpose
    authorization: bool  # whether an Authorization header was sent
    content_range: str | None
    content_length: int | None
    range: str | None
    retry_after: str | None  # the Retry-After header of the answer, if any
    injected: bool  # answered by an injected fault
    body_bytes: int  # request body bytes actually received
    grant_type: str | None = None
    headers: dict = field(default_factory=dict)  # selected request headers

    @property
    def byte_range(self) -> tuple[int, int, int | None] | None:
        """(first, last, total) from Content-Range, or None."""
        m = _CONTENT_RANGE.fullmatch((self.content_range or "").strip())
        if not m:
            return None
        total = None if m.group(3) == "*" else int(m.group(3))
        return int(m.group(1)), int(m.group(2)), total


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
