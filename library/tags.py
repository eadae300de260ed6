"""Tags as ImgBed spells them, and setting, adding and removing them on files.

A tag is lower-cased and trimmed, then must be letters, digits, `_`, `-` or CJK
(Hiragana, Katakana, CJK ideographs, Hangul syllables), as ImgBed's own check;
a list of tags loses its repeats and keeps its order.
"""

import re

from django.db import transaction
from django.db.models import Exists, OuterRef

from library.models import FileTag, Tag
from uploads.models import StoredFile

ACTIONS = ("set", "add", "remove")
MAX_LENGTH = 64
_TAG = re.compile(r"[a-z0-9_\-\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


class BadTags(ValueError):
    """Tags that cannot be one: `bad` holds them as they were given."""

    def __init__(self, bad):
        self.bad = bad
        shown = ", ".join(repr(t) for t in bad[:10]) + (" ..." if len(bad) > 10 else "")
        super().__init__(
            f"Not a valid tag: {shown}. A tag is up to {MAX_LENGTH} letters, digits, _, - or CJK characters."
        )


def normalise(tags) -> list[str]:
    """The tags as stored: lower-case, trimmed, each once, in the order given. BadTags names the
    ones that cannot be tags; TypeError when `tags` is not a list."""
    if not isinstance(tags, list):
        raise TypeError("tags must be a list of strings.")
    result, bad = [], []
    for tag in tags:
        name = tag.strip().lower() if isinstance(tag, str) else None
        if name is None or len(name) > MAX_LENGTH or not _TAG.fullmatch(name):
            bad.append(tag)
        elif name not in result:
            result.append(name)
    if bad:
        raise BadTags(bad)
    return result


def parse_list(value: str) -> list[str]:
    """Tags from a comma list in a query string (`includeTags=a,b`)."""
    return normalise([part for part in value.split(",") if part.strip()])


def of_file(file_id) -> list[str]:
    return list(FileTag.objects.filter(file_id=file_id).order_by("id").values_list("tag__name", flat=True))


def of_files(file_ids) -> dict:
    """{file id: [tag, ...]} for many files in one query."""
    found = {pk: [] for pk in file_ids}
    rows = FileTag.objects.filter(file_id__in=file_ids).order_by("id").values_list("file_id", "tag__name")
    for file_id, name in rows:
        found[file_id].append(name)
    return found


def merged(existing: list[str], given: list[str], action: str) -> list[str]:
    if action == "set":
        return list(given)
    if action == "add":
        return existing + [t for t in given if t not in existing]
    if action == "remove":
        return [t for t in existing if t not in given]
    raise ValueError(f"action must be one of {', '.join(ACTIONS)}.")


def _tag_ids(names) -> dict:
    """{name: id}, creating the tags that do not exist yet (another request may at the same moment)."""
    ids = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    missing = [n for n in names if n not in ids]
    if missing:
        Tag.objects.bulk_create([Tag(name=n) for n in missing], ignore_conflicts=True)
        ids.update(Tag.objects.filter(name__in=missing).values_list("name", "id"))
    return ids


@transaction.atomic
def apply(stored: StoredFile, action: str, given: list[str]) -> list[str]:
    """Change the file's tags; returns them as they now are. `given` is normalised already."""
    # The file's row lock: two requests changing one file's tags take turns.
    StoredFile.objects.select_for_update().filter(pk=stored.pk).values_list("pk").first()
    existing = of_file(stored.pk)
    wanted = merged(existing, given, action)
    if wanted == existing:
        return existing
    remaining = iter(existing)
    if all(name in remaining for name in wanted):  # only removed, the rest in order: drop those rows
        FileTag.objects.filter(file_id=stored.pk).exclude(tag__name__in=wanted).delete()
        return wanted
    if wanted[: len(existing)] == existing:  # only added at the end: keep the rows there are
        keep = len(existing)
    else:  # the order changed: the rows are written again in the new order
        FileTag.objects.filter(file_id=stored.pk).delete()
        keep = 0
    ids = _tag_ids(wanted[keep:])
    FileTag.objects.bulk_create([FileTag(file_id=stored.pk, tag_id=ids[name]) for name in wanted[keep:]])
    return wanted


def in_use():
    """Tags on at least one file that is not deleted."""
    live = FileTag.objects.filter(tag=OuterRef("pk")).exclude(file__status=StoredFile.Status.DELETED)
    return Tag.objects.filter(Exists(live))
