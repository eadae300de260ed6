"""OneDrive as a channel backend: tokens from the channel's OneDriveSettings, bytes through Graph."""

import functools
import io
import uuid
from urllib.parse import quote

from django.conf import settings
from django.utils.dateparse import parse_datetime

from channels import health
from channels.backends import ListedItem, Quota, Relocated, RemoteFile
from channels.errors import PermanentError, TransientError
from channels.onedrive import connection, endpoints, http, listing, serving, upload
from channels.onedrive.models import settings_of
from channels.quickxorhash import QuickXorHash


class ChannelTokens:
    """Access tokens of one channel; a refresh after a 401 rotates the refresh token once for everyone."""

    def __init__(self, channel_id):
        self.channel_id = channel_id
        self._current = None

    def get(self) -> str:
        self._current = connection.access_token(self.channel_id)
        return self._current

    def refresh(self) -> str:
        self._current = connection.access_token(self.channel_id, stale=self._current)
        return self._current


def _hash_of(open_stream, size) -> str:
    qxh = QuickXorHash()
    with open_stream(0) as fh:
        while chunk := fh.read(1024 * 1024):
            qxh.update(chunk)
    return qxh.b64digest()


class OneDriveBackend:
    # store() takes hash_state and on_progress: a resumed session reads staging only from where it stopped.
    checkpoints = True

    def __init__(self, channel):
        self.channel = channel
        self.tokens = ChannelTokens(channel.pk)

    @functools.cached_property
    def graph_base(self) -> str:
        # Read when Graph is first called: serving a cached download URL needs none of it.
        return endpoints.graph_base(settings_of(self.channel).cloud)

    def store(
        self, remote_path, open_stream, size, *, session_url, on_session, hash_state=None, on_progress=None
    ) -> RemoteFile:
        try:
            result = upload.upload_file(
                graph_base=self.graph_base,
                tokens=self.tokens,
                remote_path=remote_path,
                open_stream=open_stream,
                size=size,
                fragment_size=settings.IMGBED_FRAGMENT_SIZE,
                conflict="fail",
                session_url=session_url,
                on_session=on_session,
                hash_state=hash_state,
                on_progress=on_progress,
                retry=upload.RetryPolicy(max_wait=settings.IMGBED_MAX_INLINE_WAIT, on_wait=self._on_wait),
                session=http.session(),
            )
        except PermanentError as exc:
            if exc.code != "nameAlreadyExists":
                raise
            # A previous attempt may have finished at Microsoft before its worker
            # died: the same bytes already there count as stored.
            item = self.item_at(remote_path)
            theirs = ((item.get("file") or {}).get("hashes") or {}).get("quickXorHash")
            if item.get("size") == size and theirs and theirs == _hash_of(open_stream, size):
                return RemoteFile(item["id"], size, theirs)
            raise PermanentError(
                f"A different file already exists at {remote_path} in the OneDrive. Move or delete it there, "
                "then retry the upload.",
                code="nameAlreadyExists",
            ) from None
        return RemoteFile(result.item_id, result.size, result.quickxorhash)

    def _on_wait(self, failure, delay):
        if isinstance(failure, TransientError) and failure.pauses_channel:
            health.pause(self.channel.pk, delay)

    def item_at(self, remote_path) -> dict:
        path = "/".join(quote(part, safe="") for part in remote_path.split("/"))
        return upload.get_json(
            self.graph_base, self.tokens, f"/me/drive/root:/{path}:", session=http.session()
        )

    def relocate(self, remote_id, remote_path) -> Relocated:
        """The item itself moves (its id, which serving reads by, stays): nothing is left over."""
        upload.move_item(self.graph_base, self.tokens, remote_id, remote_path, session=http.session())
        return Relocated(remote_id)

    def cancel_session(self, session_url) -> None:
        upload.cancel_session(session_url, session=http.session())

    def download_url(self, remote_id) -> str:
        return upload.download_url(self.graph_base, self.tokens, remote_id, session=http.session())

    def redirect_url(self, remote_id) -> str | None:
        if self.channel.serve_mode != "redirect":
            return None
        return serving.download_url(self, remote_id)

    def open_range(self, remote_id, start, end):
        return serving.ranged_body(self, remote_id, start, end)

    def list_items(self):
        """The files under the root directory, through Graph's /children pages (quickXorHash given)."""
        root = (self.channel.root_directory or "").strip("/")
        for path, item in listing.walk(self.graph_base, self.tokens, root, session=http.session()):
            hashes = (item.get("file") or {}).get("hashes") or {}
            sha256 = (hashes.get("sha256Hash") or "").lower()  # work and school drives only
            yield ListedItem(
                path=path,
                remote_id=item["id"],
                size=int(item.get("size") or 0),
                modified=parse_datetime(item.get("lastModifiedDateTime") or ""),
                quickxorhash=hashes.get("quickXorHash") or "",
                sha256=sha256 if len(sha256) == 64 else "",
            )

    def quota(self) -> Quota:
        drive = connection.pull_quota(self.channel.pk)
        return Quota(drive.quota_total, drive.quota_used, drive.quota_remaining, drive.quota_deleted)

    def check(self) -> str:
        """Sign in and read the drive, then write a small file, read it back and delete it."""
        account = settings_of(connection.check_connection(self.channel.pk))
        folder = self.channel.root_directory.strip("/") or "imgbed"
        data = b"imgbed connection check\n"
        stored = self.store(
            f"{folder}/.imgbed-check-{uuid.uuid4().hex}.txt",
            lambda offset: io.BytesIO(data[offset:]),
            len(data),
            session_url=None,
            on_session=lambda url: None,
        )
        try:
            if b"".join(self.open_range(stored.remote_id, 0, len(data) - 1)) != data:
                raise PermanentError(
                    f"A test file written to {folder} read back differently.", code="ioError"
                )
        finally:
            self.delete(stored.remote_id)
        return (
            f"connected as {account.account_name} ({account.account_email}); wrote, read back and "
            f"deleted a test file in {folder}"
        )

    def delete(self, remote_id) -> None:
        upload.delete_item(self.graph_base, self.tokens, remote_id, session=http.session())
