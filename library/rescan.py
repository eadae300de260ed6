"""Rebuilding missing file records from what a channel holds.

The channel's backend lists the files under its root directory; each file's
public id is its path below the root directory, as uploads name them
(remote path = root directory / public id). A file that already has a
record (the same remote path or item on this channel, or its public id held
by a file or an old link) is left alone. Names starting with a dot are never
public ids: they are the site's temporary and test files (`.name.part`,
`.name.uploading`, `.imgbed-check-...`) or someone's hidden files.

Without `hash` nothing is read but the listing: the content type comes from
the name and sha256 stays empty (serving then gives no ETag of the bytes).
With it, each new file's bytes are read once: sha256, the type the bytes say
(as uploads judge it) and an image's size.
"""

import hashlib
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from channels.backends import ListedItem, backend_for
from channels.models import Channel
from uploads import dimensions, sniff
from uploads.models import FormerId, StoredFile
from uploads.naming import clean_folder, clean_name

BATCH = 500
MAX_ID = StoredFile._meta.get_field("public_id").max_length
MAX_FOLDER = StoredFile._meta.get_field("folder").max_length
EXAMPLES = 5

# The few types a name gives that a browser would run: they are served as downloads, never inline.
_ACTIVE_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
    "application/xml",
    "text/xml",
}
_ARCHIVE_TYPES = {
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/x-rar-compressed",
    "application/x-bzip2",
    "application/x-xz",
    "application/zstd",
}
_DOCUMENT_TYPES = {"application/pdf", "application/msword", "application/rtf"}


def category_of(content_type: str) -> str:
    """The category (uploads.sniff.CATEGORIES) a content type guessed from a name falls in."""
    kind = content_type.split("/", 1)[0]
    if content_type in _ACTIVE_TYPES:
        return "active"
    if kind in ("image", "video", "audio"):
        return kind
    if kind == "text" or content_type == "application/json":
        return "text"
    if content_type in _ARCHIVE_TYPES:
        return "archive"
    if content_type in _DOCUMENT_TYPES or content_type.startswith("application/vnd.openxmlformats"):
        return "document"
    return "binary"


@dataclass
class Report:
    channel: str
    root: str
    found: int = 0
    added: list = field(default_factory=list)  # public ids (all of them in a dry run)
    added_count: int = 0
    added_bytes: int = 0
    known: int = 0
    taken: list = field(default_factory=list)  # public ids held by another file or an old link
    hidden: list = field(default_factory=list)
    unusable: list = field(default_factory=list)  # names uploads would not give
    dry_run: bool = False

    def words(self) -> str:
        would = "would add" if self.dry_run else "added"
        lines = [
            f"Channel {self.channel}: {self.found} files under {self.root or 'the top'}; {would} "
            f"{self.added_count}, {self.known} already recorded."
        ]
        if self.taken:
            lines.append(
                f"Left alone {len(self.taken)} whose id belongs to another file or is an old link here "
                f"(e.g. {', '.join(self.taken[:EXAMPLES])})."
            )
        if self.hidden:
            lines.append(
                f"Skipped {len(self.hidden)} hidden or temporary names (starting with a dot, e.g. "
                f"{', '.join(self.hidden[:EXAMPLES])})."
            )
        if self.unusable:
            lines.append(
                f"Skipped {len(self.unusable)} whose names this site would not give a file (e.g. "
                f"{', '.join(self.unusable[:EXAMPLES])}): rename them on the channel (letters, digits, "
                "_ - . only, no spaces), then rescan again."
            )
        if self.added_count and not self.dry_run:
            lines.append(
                "Their links work now. Tags, old links and Block / Allow marks are not on a channel: "
                "an export (import_library) brings those back."
            )
        return "\n".join(lines)


def _usable(public_id: str) -> bool:
    folder, _, name = public_id.rpartition("/")
    try:
        ok = clean_folder(folder) == folder and clean_name(name) == name
    except ValueError:
        return False
    return ok and len(public_id) <= MAX_ID and len(folder) <= MAX_FOLDER


class _Known:
    """What the channel's records already cover: looked up a batch at a time by public id, plus
    the few records whose remote path is not root directory / public id (moved, renamed, or from
    another root directory), and the item ids of kinds whose remote ids are not paths."""

    def __init__(self, channel: Channel):
        self.channel = channel
        rows = StoredFile.objects.filter(channel=channel)
        own = Concat(Value(f"{channel.root_directory}/"), F("public_id"))
        self.paths = set(rows.exclude(remote_path=own).values_list("remote_path", flat=True).iterator())
        self._ids = None

    def remote_ids(self) -> set:
        if self._ids is None:
            rows = StoredFile.objects.filter(channel=self.channel).exclude(remote_id="")
            self._ids = set(rows.values_list("remote_id", flat=True).iterator())
        return self._ids

    def holders(self, public_ids) -> tuple[dict, set]:
        """({public id: (channel id, remote path)} of files holding these ids, old links among them)."""
        files = {
            public_id: (channel_id, remote_path)
            for public_id, channel_id, remote_path in StoredFile.objects.filter(
                public_id__in=public_ids
            ).values_list("public_id", "channel_id", "remote_path")
        }
        old = set(FormerId.objects.filter(public_id__in=public_ids).values_list("public_id", flat=True))
        return files, old


def _read(backend, item: ListedItem):
    """(sha256, sniffed, (width, height) or None) from the file's bytes, read once."""
    digest = hashlib.sha256()
    head = bytearray()
    if item.size:
        for chunk in backend.open_range(item.remote_id, 0, item.size - 1):
            digest.update(chunk)
            if len(head) < sniff.HEAD_SIZE:
                head += chunk[: sniff.HEAD_SIZE - len(head)]
    found = sniff.sniff(bytes(head), item.path)
    pixels = dimensions.measure(bytes(head)) if found.category == "image" else None
    return digest.hexdigest(), found, pixels


def _row(channel, public_id: str, item: ListedItem, backend, with_hash: bool) -> StoredFile:
    name = public_id.rpartition("/")[2]
    sha256, width, height = item.sha256, None, None
    if with_hash:
        sha256, found, pixels = _read(backend, item)
        content_type, category = found.content_type, found.category
        if pixels:
            width, height = pixels
    else:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        category = category_of(content_type)
    when = item.modified or timezone.now()
    return StoredFile(
        public_id=public_id,
        original_name=name,
        folder=public_id.rpartition("/")[0],
        remote_path=item.path,
        remote_id=item.remote_id,
        size=item.size,
        sha256=sha256,
        quickxorhash=item.quickxorhash,
        content_type=content_type,
        category=category,
        width=width,
        height=height,
        channel=channel,
        status=StoredFile.Status.STORED,
        stored_at=when,
        created_at=when,
    )


def _save(rows: list[StoredFile]) -> list[StoredFile]:
    """Insert the rows (one statement for the batch); the ones taken meanwhile are dropped."""
    listed_at = {id(row): row.created_at for row in rows}
    try:
        with transaction.atomic():
            created = StoredFile.objects.bulk_create(rows)
    except IntegrityError:
        created = []
        for row in rows:  # an upload or a move took one of the ids meanwhile: one at a time
            try:
                with transaction.atomic():
                    row.save()
                created.append(row)
            except IntegrityError:
                continue
    # Inserting sets created_at to now: the time the channel gives the file is put back.
    for row in created:
        row.created_at = listed_at[id(row)]
    StoredFile.objects.bulk_update(created, ["created_at"], batch_size=BATCH)
    return created


def rescan(
    channel: Channel,
    *,
    dry_run: bool = False,
    with_hash: bool = False,
    on_add: Callable[[str, int], None] | None = None,
) -> Report:
    """Add records for the channel's files that have none. Raises ChannelError when the channel
    cannot be listed (what was added before stays added)."""
    backend = backend_for(channel)
    root = (channel.root_directory or "").strip("/")
    prefix = f"{root}/" if root else ""
    report = Report(channel=channel.name, root=root, dry_run=dry_run)
    known = _Known(channel)
    for batch in _batches(backend.list_items()):
        candidates = []
        for item in batch:
            report.found += 1
            if not item.path.startswith(prefix):
                continue
            public_id = item.path[len(prefix) :]
            if any(part.startswith(".") for part in public_id.split("/")):
                report.hidden.append(public_id)
            elif item.path in known.paths or (
                item.remote_id != item.path and item.remote_id in known.remote_ids()
            ):
                report.known += 1
            elif not _usable(public_id):
                report.unusable.append(public_id)
            else:
                candidates.append((public_id, item))
        files, old = known.holders([public_id for public_id, _ in candidates])
        new = []
        for public_id, item in candidates:
            holder = files.get(public_id)
            if holder == (channel.pk, item.path):
                report.known += 1
            elif holder is not None or public_id in old:
                report.taken.append(public_id)
            else:
                new.append((public_id, item))
        if dry_run:
            for public_id, item in new:
                report.added.append(public_id)
                if on_add:
                    on_add(public_id, item.size)
            report.added_count += len(new)
            continue
        rows = [_row(channel, public_id, item, backend, with_hash) for public_id, item in new]
        created = _save(rows)
        kept = {id(row) for row in created}
        added = sum(row.size for row in created)
        if created:
            Channel.objects.filter(pk=channel.pk).update(stored_bytes=F("stored_bytes") + added)
        for row in created:
            if on_add:
                on_add(row.public_id, row.size)
        report.added_count += len(created)
        report.added_bytes += added
        report.taken.extend(row.public_id for row in rows if id(row) not in kept)
    return report


def _batches(items: Iterator[ListedItem]) -> Iterator[list[ListedItem]]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
