"""Writing the library as JSON, a piece at a time: files are read in batches by primary key, so
100,000 of them never sit in memory at once, and the text goes out as it is made (to a file, to
stdout, or to the admin's streaming download)."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings as django_settings
from django.db.models import Count
from django.utils import timezone

from channels import crypto
from channels.models import Channel
from imgbed_site.models import SiteSettings
from library.backup import format as fmt
from library.models import FileTag, Tag
from uploads.models import FormerId, StoredFile

BATCH = 1000


@dataclass
class Summary:
    """What an export held, filled in as it is written."""

    files: int = 0
    deleted: int = 0
    former_ids: int = 0
    tags: int = 0
    channels: int = 0
    left_out: dict = field(default_factory=dict)  # {status: count} of rows not exported
    with_secrets: bool = False

    def as_json(self) -> dict:
        return {
            "files": self.files,
            "deleted": self.deleted,
            "former_ids": self.former_ids,
            "tags": self.tags,
            "channels": self.channels,
            "left_out": self.left_out,
        }

    def words(self) -> str:
        lines = [
            f"Exported {self.files} files ({self.deleted} of them deleted, kept so that their ids stay "
            f"taken), {self.former_ids} old links, {self.tags} tags, {self.channels} channels and the "
            "site settings.",
            "Channel secrets: included, encrypted under this site's IMGBED_ENCRYPTION_KEYS (the importing "
            "site needs the same key)."
            if self.with_secrets
            else "Channel secrets: left out (add --with-secrets to include them, encrypted).",
        ]
        if self.left_out:
            counted = ", ".join(f"{n} {status}" for status, n in sorted(self.left_out.items()))
            lines.append(
                f"Left out {sum(self.left_out.values())} files not stored on a channel yet ({counted}): "
                "their bytes are only in this site's staging area. Let the workers store them (or retry "
                "them on the operations page), then export again."
            )
        return "\n".join(lines)


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _site_settings() -> dict:
    # Read without get_or_create: an export writes nothing.
    row = SiteSettings.objects.filter(pk=SiteSettings.SINGLETON_PK).first() or SiteSettings()
    return {name: fmt.encode(getattr(row, name)) for name in fmt.SETTINGS_FIELDS}


def _channels(with_secrets: bool) -> list[dict]:
    found = []
    for channel in Channel.objects.order_by("name"):
        entry = {name: fmt.encode(getattr(channel, name)) for name in fmt.CHANNEL_FIELDS}
        model = fmt.settings_model(channel.kind)
        plain, secret = fmt.settings_fields(model)
        row = model.objects.filter(channel_id=channel.pk).first()
        entry["settings"] = {f.name: fmt.encode(getattr(row, f.attname)) for f in plain} if row else {}
        if with_secrets and row is not None:
            # Decrypted only to be encrypted again, at once, as one token under the newest key.
            values = {f.name: getattr(row, f.attname) for f in secret}
            entry["secrets"] = crypto.encrypt(json.dumps(values))
        found.append(entry)
    return found


def _file_batches() -> Iterator[list[dict]]:
    columns = [*fmt.FILE_FIELDS, "id", "channel__name", "channel__kind"]
    rows = StoredFile.objects.filter(status__in=fmt.EXPORTED_STATUSES).order_by("pk").values(*columns)
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        last = batch[-1]["id"]
        ids = [row["id"] for row in batch]
        tags, formers = {pk: [] for pk in ids}, {pk: [] for pk in ids}
        for file_id, name in (
            FileTag.objects.filter(file_id__in=ids).order_by("id").values_list("file_id", "tag__name")
        ):
            tags[file_id].append(name)
        for file_id, old in (
            FormerId.objects.filter(file_id__in=ids).order_by("id").values_list("file_id", "public_id")
        ):
            formers[file_id].append(old)
        records = []
        for row in batch:
            record = {name: fmt.encode(row[name]) for name in fmt.FILE_FIELDS}
            record["channel"] = row["channel__name"]
            record["channel_kind"] = row["channel__kind"]
            record["former_ids"] = formers[row["id"]]
            record["tags"] = tags[row["id"]]
            records.append(record)
        yield records


def stream(with_secrets: bool = False, summary: Summary | None = None) -> Iterator[str]:
    """The export's text, in pieces. `summary` (when given) is filled in as the pieces go out."""
    summary = summary if summary is not None else Summary()
    summary.with_secrets = with_secrets
    channels = _channels(with_secrets)
    summary.channels = len(channels)
    head = {
        "format": fmt.FORMAT,
        "version": fmt.VERSION,
        "exported_at": timezone.now().isoformat(),
        "site_url": django_settings.SITE_URL,
        "secrets": "encrypted" if with_secrets else "none",
    }
    if with_secrets:
        head["key_check"] = crypto.encrypt(fmt.KEY_CHECK)
    yield "{\n" + "".join(f"{_dump(key)}: {_dump(value)},\n" for key, value in head.items())
    yield f'"settings": {_dump(_site_settings())},\n'
    yield '"channels": [' + ",".join(f"\n  {_dump(entry)}" for entry in channels) + "\n],\n"

    yield '"tags": ['
    first = True
    for name in Tag.objects.order_by("name").values_list("name", flat=True).iterator(chunk_size=BATCH):
        yield ("\n  " if first else ",\n  ") + _dump(name)
        first = False
        summary.tags += 1
    yield "\n],\n"

    yield '"files": ['
    first = True
    for records in _file_batches():
        pieces = []
        for record in records:
            pieces.append(("\n  " if first else ",\n  ") + _dump(record))
            first = False
            summary.files += 1
            summary.deleted += record["status"] == StoredFile.Status.DELETED
            summary.former_ids += len(record["former_ids"])
        yield "".join(pieces)
    yield "\n],\n"

    left_out = (
        StoredFile.objects.exclude(status__in=fmt.EXPORTED_STATUSES)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    summary.left_out = dict(left_out)
    yield f'"summary": {_dump(summary.as_json())}\n}}\n'
