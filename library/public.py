"""GET /api/public/list and the /browse/ pages: ImgBed's public listing, paged in the database as
the management list is (library.listing), over the files visibility allows.

A public answer names each file by its id with its type, upload time and size, nothing else:
not who uploaded it, from where, its original name, its tags or its channel.
"""

from dataclasses import dataclass

from django.db.models import Q

from library import listing, metadata, visibility
from library.access import BadInput
from uploads.models import StoredFile

DEFAULT_COUNT = 50
MAX_COUNT = 100  # a larger count (or ImgBed's -1, all) gets this many; page on with start
FIELDS = ("public_id", "folder", "size", "content_type", "created_at", "width", "height")


class Closed(BadInput):
    """Public browsing is off, or the folder asked for is not open to it: a 403."""

    def __init__(self, message, rules):
        super().__init__(message, 403, allowedDirs=allowed_folders(rules))


def allowed_folders(rules) -> list[str]:
    """The folders open to browsing, in the order staff listed them; [] when every folder is."""
    return [] if visibility.every_folder(rules.public_browse_folders) else list(rules.public_browse_folders)


def check_open(rules, folder: str):
    """Closed unless public browsing is on and the folder ("" the top) is open to it."""
    if not rules.public_browse:
        raise Closed(
            "Public browse is disabled: this site does not list its files publicly. Staff can turn "
            "it on in the admin, under Site › Site settings › Public browsing.",
            rules,
        )
    if not rules.browse_allows(folder):
        where = f"The folder {folder}" if folder else "The top folder"
        raise Closed(
            f"Directory not allowed: {where} is not open to public browsing. Open one of "
            f"{', '.join(rules.public_browse_folders)} (each with its subfolders).",
            rules,
        )


def _count(params) -> int:
    count = listing.integer(params, "count", DEFAULT_COUNT)
    if count == 0 or count < -1:
        raise BadInput(f"count must be from 1 to {MAX_COUNT} (or -1: as many as one page holds).")
    return MAX_COUNT if count == -1 else min(count, MAX_COUNT)


def parse(params, rules) -> listing.ListQuery:
    """The request's listing, checked: Closed (403) first, then BadInput in words (400)."""
    folder = listing.normalise_dir(params.get("dir", "").strip())
    check_open(rules, folder.removesuffix("/"))
    query = listing.ListQuery(
        start=max(0, listing.integer(params, "start", 0)),
        count=_count(params),
        dir=folder,
        recursive=params.get("recursive") == "true",
        search=params.get("search", "").strip(),
    )
    query.tree_total = query.recursive  # totalCount: what start and count page over
    visibility.limit(query, rules)
    if query.search:  # the id only: the original name is the uploader's, not public
        query.where.append(Q(public_id__icontains=query.search))
    kind = params.get("type", "").strip().lower()
    if kind:
        if kind not in listing.FILE_TYPES:
            raise BadInput(
                f"type must be one of {', '.join(listing.FILE_TYPES)}, not {params.get('type')!r}."
            )
        query.where.append(listing.of_file_types([kind]))
    return query


@dataclass
class Listing:
    files: list  # StoredFile rows with FIELDS loaded, newest first
    directories: list
    total: int  # matching files in the folder, and below it when recursive
    query: listing.ListQuery


def read(query: listing.ListQuery) -> Listing:
    found = listing.page(query)
    rows = listing.rows_of(found.ids, StoredFile.objects.only(*FIELDS))
    return Listing(rows, found.directories, found.total if query.recursive else found.direct, query)


def entry(stored: StoredFile) -> dict:
    return {
        "name": stored.public_id,
        "metadata": {
            "FileType": stored.content_type,
            "TimeStamp": metadata.milliseconds(stored.created_at),
            "FileSize": metadata.megabytes(stored.size),
        },
    }


def respond(found: Listing, rules) -> dict:
    return {
        "files": [entry(row) for row in found.files],
        "directories": found.directories,
        "totalCount": found.total,
        "returnedCount": len(found.files),
        "allowedDirs": allowed_folders(rules),
    }
