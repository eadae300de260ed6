"""A local folder as a channel backend: files written atomically, read with ranges."""

import contextlib
import datetime
import errno
import hashlib
import io
import os
import shutil
import uuid
from pathlib import Path

from channels.backends import ListedItem, Quota, Relocated, RemoteFile
from channels.errors import PermanentError, TransientError
from channels.local.models import LocalSettings

CHUNK = 1024 * 1024


def _os_error(exc: OSError, where: Path) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return PermanentError(
            f"The disk holding {where} is full. Free space there or add another channel.",
            code="quotaLimitReached",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermanentError(
            f"This site may not write to {where} ({exc.strerror}). Give the user that runs the web "
            "process and the workers write access, or choose another folder.",
            code="accessDenied",
        )
    if exc.errno in (errno.ENOTDIR, errno.EISDIR):
        return PermanentError(
            f"{where} is not a folder that can hold files ({exc.strerror}). Choose another folder.",
            code="badConfig",
        )
    return TransientError(f"Cannot write to {where}: {exc.strerror}. Will retry later.", code="ioError")


def _read_error(exc: OSError, where: Path) -> Exception:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermanentError(
            f"This site may not read {where} ({exc.strerror}). Give the user that runs the web process "
            "and the workers read access there.",
            code="accessDenied",
        )
    return TransientError(f"Cannot read {where}: {exc.strerror}.", code="ioError")


class LocalBackend:
    def __init__(self, channel):
        self.channel = channel
        settings = LocalSettings.objects.filter(channel_id=channel.pk).first()
        if settings is None or not settings.path:
            raise PermanentError(
                f"The local channel {channel.name} has no folder. Set one in the admin.", code="badConfig"
            )
        self.root = Path(settings.path)

    def _path(self, remote_path: str) -> Path:
        root = self.root.resolve()
        target = (root / remote_path).resolve()
        if not target.is_relative_to(root) or target == root:
            raise PermanentError(f"{remote_path!r} is not a path inside {root}.", code="badPath")
        return target

    def store(self, remote_path, open_stream, size, *, session_url=None, on_session=None) -> RemoteFile:
        target = self._path(remote_path)
        partial = target.parent / f".{target.name}.{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        written = 0
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open_stream(0) as source, open(partial, "xb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if written != size:
                raise TransientError(
                    f"Read {written} bytes of a {size}-byte file from staging. Will retry.", code="shortRead"
                )
            try:
                # A hard link never replaces an existing file, unlike a rename.
                os.link(partial, target)
            except FileExistsError:
                if not _same_file(target, size, digest.hexdigest()):
                    raise PermanentError(
                        f"A different file already exists at {target}. Move or delete it there, "
                        "then retry the upload.",
                        code="nameAlreadyExists",
                    ) from None
        except OSError as exc:
            raise _os_error(exc, target.parent) from exc
        finally:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
        return RemoteFile(remote_id=remote_path, size=written)

    def relocate(self, remote_id, remote_path) -> Relocated:
        """A second name for the file (a hard link: no bytes copied, and reads of the old name go on)."""
        source, target = self._path(remote_id), self._path(remote_path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)  # never replaces a file there
            except FileExistsError:
                if not os.path.samefile(source, target):
                    raise PermanentError(
                        f"A different file already exists at {target}; the file stays at {source}.",
                        code="nameAlreadyExists",
                    ) from None
            except FileNotFoundError:
                raise PermanentError(f"The file is missing from {self.root}.", code="itemNotFound") from None
        except OSError as exc:
            raise _os_error(exc, target.parent) from exc
        return Relocated(remote_path, leftover=remote_id)

    def cancel_session(self, session_url) -> None:
        """Local writes have no sessions to give up."""

    def redirect_url(self, remote_id) -> str | None:
        return None

    def local_path(self, remote_id) -> Path:
        """Where the file is on this host, for a front server to send it (X-Accel-Redirect, X-Sendfile)."""
        path = self._path(remote_id)
        if not path.is_file():
            raise PermanentError(f"The file is missing from {self.root}.", code="itemNotFound")
        return path

    def open_range(self, remote_id, start, end):
        path = self._path(remote_id)
        try:
            fh = open(path, "rb")  # noqa: SIM115 (the generator below closes it)
        except FileNotFoundError:
            raise PermanentError(f"The file is missing from {self.root}.", code="itemNotFound") from None
        except OSError as exc:
            raise TransientError(f"Cannot read {path}: {exc.strerror}.", code="ioError") from exc
        fh.seek(start)

        def chunks():
            remaining = end - start + 1
            with fh:
                while remaining > 0:
                    data = fh.read(min(CHUNK, remaining))
                    if not data:
                        break
                    remaining -= len(data)
                    yield data

        return chunks()

    def delete(self, remote_id) -> None:
        try:
            self._path(remote_id).unlink(missing_ok=True)
        except OSError as exc:
            raise _os_error(exc, self.root) from exc

    def list_items(self):
        """The files under the root directory, walked on disk; links to elsewhere are not followed."""
        top = self.root / (self.channel.root_directory or "").strip("/")
        if not top.is_dir():
            return

        def refuse(exc):
            raise _read_error(exc, Path(exc.filename or top)) from exc

        for folder, folders, files in os.walk(top, onerror=refuse):
            folders.sort()
            for name in sorted(files):
                path = Path(folder) / name
                try:
                    found = path.lstat()
                except FileNotFoundError:
                    continue  # removed while the walk went by
                except OSError as exc:
                    raise _read_error(exc, path.parent) from exc
                if not path.is_file() or path.is_symlink():
                    continue
                remote_path = path.relative_to(self.root).as_posix()
                yield ListedItem(
                    path=remote_path,
                    remote_id=remote_path,
                    size=found.st_size,
                    modified=datetime.datetime.fromtimestamp(found.st_mtime, datetime.UTC),
                )

    def quota(self) -> Quota:
        """The staff-set capacity (else the disk's size) and the bytes this site stored here."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            disk = shutil.disk_usage(self.root)
        except OSError as exc:
            raise _os_error(exc, self.root) from exc
        used = self.channel.stored_bytes
        capacity = self.channel.capacity
        total = capacity if capacity else disk.total
        remaining = min(disk.free, max(0, total - used)) if capacity else disk.free
        return Quota(total=total, used=used, remaining=remaining)

    def check(self) -> str:
        """Write a small file, read it back and delete it."""
        probe = f".imgbed-check-{uuid.uuid4().hex}"
        data = b"imgbed connection check\n"
        stored = self.store(probe, lambda offset: io.BytesIO(data[offset:]), len(data))
        try:
            if b"".join(self.open_range(stored.remote_id, 0, len(data) - 1)) != data:
                raise PermanentError(f"A file written to {self.root} read back differently.", code="ioError")
        finally:
            self.delete(stored.remote_id)
        quota = self.quota()
        return f"wrote, read back and deleted a test file in {self.root}; {_size(quota.remaining)} free"


def _same_file(path: Path, size: int, sha256: str) -> bool:
    if path.stat().st_size != size:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == sha256


def _size(n: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return filesizeformat(n)
