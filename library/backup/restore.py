"""Reading a library export back into a site, empty or not, as often as needed.

The file is read twice: once to check it all (a file cut short or edited by
hand is refused before anything changes), then to import. A file is the same
file when its public id is: it is created, updated to what the export says, or
left as it is; each file with its old links and tags is written whole or not at
all. Channels are matched by name; one missing here is created from the export
only when the export carries its secrets, else its files are skipped and said so.
"""

import contextlib
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from channels import crypto, kinds
from channels.crypto import SecretDecryptionError
from channels.models import Channel, normalize_root_directory
from imgbed_site.models import SiteSettings
from library import tags as tag_rules
from library.backup import format as fmt
from library.backup.jsonstream import BrokenJSON, Reader
from library.models import FileTag, Tag
from uploads.models import FormerId, StoredFile

BATCH = 500
STREAMED = ("tags", "files")
Status = StoredFile.Status
FILE_DECODERS = {name: fmt.decoder(StoredFile._meta.get_field(name)) for name in fmt.FILE_FIELDS}
# Rows an import may overwrite: a row still on its way to a channel belongs to the pipeline.
SETTLED = (Status.STORED, Status.DELETED)


class BadExport(Exception):
    """The file cannot be imported at all; the message says why and what to do."""


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)  # {reason: files}
    channels_created: list = field(default_factory=list)
    channels_found: list = field(default_factory=list)
    settings: str = ""
    tags_created: int = 0
    exported_at: str = ""
    site_url: str = ""

    @property
    def skipped_files(self) -> int:
        return sum(self.skipped.values())

    def words(self) -> str:
        lines = [
            f"Files: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped_files} skipped."
        ]
        for reason, n in sorted(self.skipped.items()):
            lines.append(f"  Skipped {n} {'file' if n == 1 else 'files'}: {reason}")
        if self.channels_created:
            lines.append(
                f"Channels created from the export: {', '.join(self.channels_created)}. Open each in the "
                "admin and click Test connection: it takes uploads once it is connected."
            )
        if self.channels_found:
            lines.append(f"Channels already here, used as they are: {', '.join(self.channels_found)}.")
        lines.append(f"Site settings: {self.settings}.")
        lines.append(f"Tags: {self.tags_created} created.")
        return "\n".join(lines)


@dataclass
class Header:
    version: int = 0
    exported_at: str = ""
    site_url: str = ""
    secrets: str = "none"
    key_check: str = ""
    settings: dict | None = None
    channels: list = field(default_factory=list)
    files: int = 0
    summary: dict | None = None


# Checking the whole file first.


def _reader(fh) -> Reader:
    return Reader(fh, streamed=STREAMED)


@contextlib.contextmanager
def _readable(name):
    """The reader's errors, and a file that is no text, as BadExport."""
    try:
        yield
    except BrokenJSON as exc:
        raise BadExport(
            f"{name} is not valid JSON: {exc}. Was the export cut short or edited? Export again."
        ) from None
    except UnicodeDecodeError:
        raise BadExport(f"{name} is not an imgbed library export: it is not UTF-8 text.") from None


def _guarded(items, name):
    with _readable(name):
        yield from items


def _members(fh, name):
    with _readable(name):
        for key, value in _reader(fh).members():
            yield key, _guarded(value, name) if key in STREAMED else value


def _not_an_export(name) -> BadExport:
    return BadExport(
        f"{name} is not an imgbed library export (it must start with "
        f'{{"format": "{fmt.FORMAT}", "version": ...}}). Make one with: python manage.py export_library FILE'
    )


def check(fh, name) -> Header:
    """Read the whole export and check its shape; BadExport says what is wrong with it."""
    header = Header()
    with _readable(name):
        start = fh.read(64).lstrip()
    if not start.startswith("{"):
        raise _not_an_export(name)
    fh.seek(0)
    members = _members(fh, name)
    try:
        key, value = next(members)
    except StopIteration:
        raise _not_an_export(name) from None
    if key != "format" or value != fmt.FORMAT:
        raise _not_an_export(name)
    seen = {"format"}
    for key, value in members:
        if key in seen:
            raise BadExport(f"{name} holds {key!r} twice: it was edited by hand. Export again.")
        seen.add(key)
        if key == "version":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadExport(f"{name} has no valid format version ({value!r}).")
            if value > fmt.VERSION:
                raise BadExport(
                    f"{name} was made by a newer imgbed (format version {value}; this site reads up to "
                    f"version {fmt.VERSION}). Update this site, then import again."
                )
            header.version = value
        elif key in ("exported_at", "site_url", "secrets", "key_check"):
            setattr(header, key, value if isinstance(value, str) else "")
        elif key == "settings":
            header.settings = value if isinstance(value, dict) else None
        elif key == "channels":
            if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
                raise BadExport(f"{name}: channels must be a list of channel definitions.")
            header.channels = value
        elif key == "tags":
            for n, tag in enumerate(value, 1):
                if not isinstance(tag, str):
                    raise BadExport(f"{name}: tag {n} is not text.")
        elif key == "files":
            for n, record in enumerate(value, 1):
                try:
                    _file_values(record, f"file {n}")
                except fmt.BadRecord as exc:
                    raise BadExport(f"{name}: {exc} Export again, or correct that record.") from None
                header.files += 1
        elif key == "summary":
            header.summary = value if isinstance(value, dict) else None
    if not header.version:
        raise BadExport(f"{name} has no format version: it is not a complete export.")
    if header.summary is None or "files" not in seen:
        raise BadExport(f"{name} ends without its files or summary: the export was cut short. Export again.")
    if header.summary.get("files") != header.files:
        raise BadExport(
            f"{name} holds {header.files} files but its summary says {header.summary.get('files')}: "
            "it was edited or cut. Export again."
        )
    return header


def _file_values(record, where) -> dict:
    """The model values of a file record (and its channel, old links, tags), checked."""
    if not isinstance(record, dict):
        raise fmt.BadRecord(f"{where} is not a file record.")
    missing = [name for name in (*fmt.FILE_FIELDS, "channel", "former_ids", "tags") if name not in record]
    if missing:
        raise fmt.BadRecord(f"{where} has no {', '.join(missing)}.")
    values = {name: decode(record[name], where) for name, decode in FILE_DECODERS.items()}
    if not values["public_id"]:
        raise fmt.BadRecord(f"{where} has an empty public_id.")
    if values["status"] not in SETTLED:
        raise fmt.BadRecord(f"{where}: status {values['status']!r} is not one an export holds.")
    if not isinstance(record["channel"], str) or not record["channel"]:
        raise fmt.BadRecord(f"{where} names no channel.")
    formers = record["former_ids"]
    if not isinstance(formers, list) or not all(isinstance(f, str) and f for f in formers):
        raise fmt.BadRecord(f"{where}: former_ids must be a list of ids.")
    try:
        tag_names = tag_rules.normalise(record["tags"])
    except (TypeError, tag_rules.BadTags) as exc:
        raise fmt.BadRecord(f"{where}: {exc}") from None
    if tag_names != record["tags"]:
        raise fmt.BadRecord(f"{where}: tags are not written as this site stores them.")
    return values


# Channels and settings.


def _channel_values(entry: dict, where: str) -> dict:
    values = {}
    for name in fmt.CHANNEL_FIELDS:
        if name not in entry:
            raise fmt.BadRecord(f"{where} has no {name}.")
        values[name] = fmt.decode(Channel._meta.get_field(name), entry[name], where)
    try:
        kinds.get(values["kind"])
    except ValueError as exc:
        raise fmt.BadRecord(f"{where}: {exc}") from None
    return values


def _kind_label(kind: str) -> str:
    try:
        return kinds.get(kind).label
    except ValueError:
        return kind


class Channels:
    """The export's channels matched to this site's by name: a channel, or why its files are skipped."""

    def __init__(self, header: Header, outcome: Outcome):
        self.header = header
        self.outcome = outcome
        self.by_name: dict[str, int] = {}
        self.kinds: dict[str, str] = {}
        self.refused: dict[str, str] = {}

    @transaction.atomic
    def resolve(self):
        definitions = {}
        for n, entry in enumerate(self.header.channels, 1):
            try:
                values = _channel_values(entry, f"channel {n}")
            except fmt.BadRecord as exc:
                raise BadExport(f"{exc} Export again.") from None
            definitions[values["name"]] = (values, entry)
        here = {c.name: c for c in Channel.objects.filter(name__in=list(definitions))}
        missing = [name for name in definitions if name not in here]
        if missing and self.header.secrets == "encrypted":
            self._check_key()
        for name, (values, entry) in definitions.items():
            self.kinds[name] = values["kind"]
            channel = here.get(name)
            if channel is not None:
                if channel.kind != values["kind"]:
                    self.refused[name] = (
                        f"the channel {name} here is a {_kind_label(channel.kind)} channel, in the export a "
                        f"{_kind_label(values['kind'])} one: rename one of them, then run import again."
                    )
                else:
                    self.by_name[name] = channel.pk
                    self.outcome.channels_found.append(name)
            elif self.header.secrets == "encrypted" and "secrets" in entry:
                self.by_name[name] = self._create(values, entry)
                self.outcome.channels_created.append(name)
            else:
                self.refused[name] = (
                    f"channel {name} does not exist here: create it in the admin (a "
                    f"{_kind_label(values['kind'])} channel named {name}, root directory "
                    f"{values['root_directory'] or '(none)'}), then run import again. Or export with "
                    "--with-secrets, and this site creates it."
                )

    def _check_key(self):
        try:
            ok = crypto.decrypt(self.header.key_check, what="the export's secrets") == fmt.KEY_CHECK
        except SecretDecryptionError:
            ok = False
        if not ok:
            raise BadExport(
                "The export's channel secrets were encrypted with another key than this site's "
                "IMGBED_ENCRYPTION_KEYS. Add the exporting site's key to IMGBED_ENCRYPTION_KEYS (after the "
                "newest one) and import again, or create the missing channels in the admin and import "
                "without their secrets."
            )

    def _create(self, values: dict, entry: dict) -> int:
        name = values["name"]
        try:
            secrets = json.loads(crypto.decrypt(entry["secrets"], what=f"the secrets of channel {name}"))
        except SecretDecryptionError as exc:
            raise BadExport(str(exc)) from None
        except ValueError:
            raise BadExport(
                f"The secrets of channel {name} in the export are damaged. Export again."
            ) from None
        model = fmt.settings_model(values["kind"])
        plain, secret = fmt.settings_fields(model)
        given = entry.get("settings") or {}
        with transaction.atomic():
            channel = Channel(**values)
            try:
                channel.root_directory = normalize_root_directory(channel.root_directory)
            except ValidationError as exc:
                raise BadExport(
                    f"channel {name}: the root directory is refused here: {' '.join(exc.messages)}"
                ) from None
            channel.save()
            row = model(channel=channel)
            for f in plain:
                if f.name in given:
                    try:
                        setattr(row, f.attname, fmt.decode(f, given[f.name], f"channel {name}"))
                    except fmt.BadRecord as exc:
                        raise BadExport(f"{exc} Export again.") from None
            for f in secret:
                setattr(row, f.attname, secrets.get(f.name) or "")
            row.save()
        return channel.pk

    def target(self, name: str) -> tuple[int | None, str]:
        """(channel id, "") or (None, why this channel's files are skipped)."""
        if name in self.by_name:
            return self.by_name[name], ""
        if name in self.refused:
            return None, self.refused[name]
        return None, (
            f"channel {name} is not among the export's channels: the export was edited. Export again."
        )


def _restore_settings(given: dict | None) -> str:
    if not isinstance(given, dict):
        return "not in the export, left as they are"
    row = SiteSettings.objects.filter(pk=SiteSettings.SINGLETON_PK).first() or SiteSettings()
    changed = False
    for name in fmt.SETTINGS_FIELDS:
        if name not in given:
            continue
        try:
            value = fmt.decode(SiteSettings._meta.get_field(name), given[name], "site settings")
        except fmt.BadRecord as exc:
            return f"left as they are ({exc})"
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if not changed and row.pk is not None:
        return "unchanged"
    try:
        row.full_clean(exclude=["id"])
    except ValidationError as exc:
        return f"left as they are: this site refuses {'; '.join(exc.messages)}"
    row.save()
    return "updated"


# Files.


class Files:
    def __init__(self, channels: Channels, outcome: Outcome):
        self.channels = channels
        self.outcome = outcome
        self.tag_ids: dict[str, int] = {}
        self.touched_channels: set[int] = set()

    def ensure_tags(self, names):
        names = [n for n in names if n not in self.tag_ids]
        if not names:
            return
        for at in range(0, len(names), 500):
            chunk = names[at : at + 500]
            known = dict(Tag.objects.filter(name__in=chunk).values_list("name", "id"))
            new = [n for n in chunk if n not in known]
            if new:
                Tag.objects.bulk_create([Tag(name=n) for n in new], ignore_conflicts=True)
                known = dict(Tag.objects.filter(name__in=chunk).values_list("name", "id"))
                self.outcome.tags_created += len(new)
            self.tag_ids.update(known)

    def batch(self, records: list):
        prepared = []
        for record in records:
            values = _file_values(record, record.get("public_id", "a file"))  # checked already
            channel_id, why = self.channels.target(record["channel"])
            if channel_id is None:
                self.outcome.skipped[why] += 1
                continue
            prepared.append((values, channel_id, record["former_ids"], record["tags"]))
        if not prepared:
            return
        ids = {v["public_id"] for v, *_ in prepared} | {
            old for _, _, formers, _ in prepared for old in formers
        }
        files, old_links = _holders(ids)
        existing_pks = [files[v["public_id"]]["id"] for v, *_ in prepared if v["public_id"] in files]
        their_formers = _by_file(FormerId.objects.filter(file_id__in=existing_pks), "public_id")
        their_tags = _by_file(FileTag.objects.filter(file_id__in=existing_pks), "tag__name")
        self.ensure_tags({t for *_, tags in prepared for t in tags})
        with transaction.atomic():  # one commit for the batch; each file in a savepoint of its own
            self._write(prepared, files, old_links, their_formers, their_tags)

    def _write(self, prepared, files, old_links, their_formers, their_tags):
        new = []
        for values, channel_id, formers, tags in prepared:
            current = files.get(values["public_id"])
            why = _conflict(values["public_id"], values["status"], current, formers, files, old_links)
            if why:
                self.outcome.skipped[why] += 1
            elif current is None:
                new.append((values, channel_id, formers, tags))
            else:
                had = their_formers.get(current["id"], []), their_tags.get(current["id"], [])
                if _same(values, channel_id, formers, tags, current, *had):
                    self.outcome.unchanged += 1
                else:
                    self._one(self._update, values, channel_id, formers, tags, current, *had)
        if not new:
            return
        try:
            # Nearly always every new file of the batch goes in at once: a few statements for all.
            with transaction.atomic():
                self._create(new)
            self.outcome.created += len(new)
        except IntegrityError:
            for entry in new:  # one of them clashed: each on its own, so the others still go in
                self._one(self._create_one, *entry)

    def _one(self, write, *args):
        try:
            with transaction.atomic():
                result = write(*args)
        except IntegrityError:
            # Taken meanwhile by an upload or a move here (or twice in the export).
            self.outcome.skipped[
                "its id or an old link of it was taken here while the import ran: run import again."
            ] += 1
            return
        setattr(self.outcome, result, getattr(self.outcome, result) + 1)

    def _create_one(self, *entry) -> str:
        self._create([entry])
        return "created"

    def _create(self, entries):
        rows = StoredFile.objects.bulk_create(
            [StoredFile(**values, channel_id=channel_id) for values, channel_id, _, _ in entries]
        )
        put_back_created_at(
            [(row.pk, values["created_at"]) for row, (values, *_) in zip(rows, entries, strict=True)]
        )
        FormerId.objects.bulk_create(
            [
                FormerId(public_id=old, file_id=row.pk)
                for row, (_, _, formers, _) in zip(rows, entries, strict=True)
                for old in formers
            ]
        )
        FileTag.objects.bulk_create(
            [
                FileTag(file_id=row.pk, tag_id=self.tag_ids[t])
                for row, (_, _, _, tags) in zip(rows, entries, strict=True)
                for t in tags
            ]
        )
        self.touched_channels.update(channel_id for _, channel_id, _, _ in entries)

    def _update(self, values, channel_id, formers, tags, current, had_formers, had_tags) -> str:
        pk = current["id"]
        changed = {name: value for name, value in values.items() if current[name] != value}
        if current["channel_id"] != channel_id:
            changed["channel_id"] = channel_id
        if changed:
            StoredFile.objects.filter(pk=pk).update(**changed, updated_at=timezone.now())
            self.touched_channels.update({current["channel_id"], channel_id})
        if set(had_formers) != set(formers):
            FormerId.objects.filter(file_id=pk).exclude(public_id__in=formers).delete()
            FormerId.objects.bulk_create(
                [FormerId(public_id=old, file_id=pk) for old in formers if old not in had_formers]
            )
            changed["former_ids"] = formers
        if had_tags != tags:
            FileTag.objects.filter(file_id=pk).delete()
            FileTag.objects.bulk_create([FileTag(file_id=pk, tag_id=self.tag_ids[t]) for t in tags])
            changed["tags"] = tags
        return "updated"

    def count_stored_bytes(self):
        """The site's own count of what each channel holds, for the channels files went to or left."""
        stored = (
            StoredFile.objects.filter(channel_id=OuterRef("pk"), status=Status.STORED)
            .order_by()
            .values("channel_id")
            .annotate(total=Sum("size"))
            .values("total")
        )
        Channel.objects.filter(pk__in=self.touched_channels).update(
            stored_bytes=Coalesce(Subquery(stored), 0)
        )


def _same(values, channel_id, formers, tags, current, had_formers, had_tags) -> bool:
    return (
        current["channel_id"] == channel_id
        and all(current[name] == value for name, value in values.items())
        and set(had_formers) == set(formers)
        and had_tags == tags
    )


def put_back_created_at(pairs):
    """Give rows just inserted their own upload times: an insert sets created_at to now (auto_now_add).
    One statement sent for many rows; bulk_update's CASE expression cost more than the inserts."""
    if not pairs:
        return
    table = connection.ops.quote_name(StoredFile._meta.db_table)
    column = connection.ops.quote_name(StoredFile._meta.get_field("created_at").column)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608 (names from the model)
            [(connection.ops.adapt_datetimefield_value(when), pk) for pk, when in pairs],
        )


def _holders(ids):
    """({public id: row values} of files holding these ids, {old link: file id} of old links)."""
    ids = list(ids)
    files, old_links = {}, {}
    columns = ["id", "channel_id", *fmt.FILE_FIELDS]
    for at in range(0, len(ids), 500):
        chunk = ids[at : at + 500]
        files.update(
            (row["public_id"], row) for row in StoredFile.objects.filter(public_id__in=chunk).values(*columns)
        )
        old_links.update(FormerId.objects.filter(public_id__in=chunk).values_list("public_id", "file_id"))
    return files, old_links


def _by_file(rows, column) -> dict:
    found = {}
    for file_id, value in rows.order_by("id").values_list("file_id", column):
        found.setdefault(file_id, []).append(value)
    return found


def _conflict(public_id, status, current, formers, files, old_links) -> str:
    """Why this file cannot be written here, or ""."""
    pk = current["id"] if current else None
    if current is not None and current["status"] not in SETTLED:
        return (
            f"a file with the same id is still being uploaded here ({current['status']}): run import again "
            "once it is stored."
        )
    if current is not None and current["status"] != status:
        if current["status"] == Status.DELETED:
            return (
                "it was deleted here (its bytes were removed from the channel): it stays deleted. Upload it "
                "again to bring it back."
            )
        return "it is deleted in the export but stored here: it was left as it is (delete it here if it should go)."
    if public_id in old_links and old_links[public_id] != pk:
        return "its id is an old link of another file here (moved or renamed): it was left as it is."
    for old in formers:
        holder = files.get(old)
        if holder is not None and holder["id"] != pk:
            return "one of its old links is the id of another file here: it was left as it is."
        if old in old_links and old_links[old] != pk:
            return "one of its old links already leads to another file here: it was left as it is."
    return ""


# The whole run.


@contextlib.contextmanager
def opened(path: str, stdin=None):
    """The export as text; stdin ("-") is copied to a temporary file, since it is read twice."""
    if path == "-":
        with tempfile.TemporaryFile("w+", encoding="utf-8") as copy:
            while chunk := stdin.read(1 << 16):
                copy.write(chunk)
            copy.seek(0)
            yield copy
        return
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise BadExport(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise BadExport(f"{path} is a folder, not an export file.") from None
    except OSError as exc:
        raise BadExport(f"Cannot read {path}: {exc.strerror}.") from None
    with fh:
        yield fh


def restore(fh, name: str) -> Outcome:
    header = check(fh, name)
    outcome = Outcome(exported_at=header.exported_at, site_url=header.site_url)
    channels = Channels(header, outcome)
    channels.resolve()
    outcome.settings = _restore_settings(header.settings)
    files = Files(channels, outcome)
    fh.seek(0)
    for key, items in _members(fh, name):
        if key == "tags":
            names = []
            for tag in items:
                names.append(tag)
                if len(names) == 500:
                    files.ensure_tags(names)
                    names = []
            files.ensure_tags(names)
        elif key == "files":
            batch = []
            for record in items:
                batch.append(record)
                if len(batch) == BATCH:
                    files.batch(batch)
                    batch = []
            files.batch(batch)
    files.count_stored_bytes()
    return outcome
