"""GET /api/manage/list: ImgBed's parameters and answer, paged in the database.

Files are read newest first through the partial indexes on uploads' StoredFile
(uploads_live_folder_idx for one folder, uploads_live_recent_idx for a whole
tree): the page's ids come from the index, then only those rows are read.
"""

import re
import time
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Q

from channels import kinds
from channels.models import Channel
from library import metadata, tags
from library.access import BadInput
from library.models import FileTag, Tag
from uploads.models import LIVE, StoredFile

DEFAULT_COUNT = 50
BATCH = 500  # ids per IN (...) when reading a page's rows and tags
LIST_TYPES = tuple(StoredFile.ListType.values)  # None, White, Block
FILE_TYPES = ("image", "video", "audio", "other")
ACCESS = ("normal", "blocked")
LABELS = ("normal", "teen", "adult")


def normalise_dir(value: str) -> str:
    """ImgBed's `dir`: `..` becomes `_`, backslashes `/`, no leading slash, one trailing slash ("" is the top)."""
    if not value:
        return ""
    value = re.sub(r"/{2,}", "/", value.replace("..", "_").replace("\\", "/"))
    value = value.removeprefix("/")
    if value and not value.endswith("/"):
        value += "/"
    return value


def integer(params, name, default):
    raw = params.get(name, "").strip()
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadInput(f"{name} must be a whole number, not {raw!r}.") from None


def _choices(params, name, allowed) -> list[str]:
    values = [v.strip() for v in params.get(name, "").split(",") if v.strip()]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise BadInput(f"{name}: {', '.join(unknown)} is not one of {', '.join(allowed)}.")
    return values


def _kind(value: str) -> str | None:
    """Our kind for an ImgBed or own channel type; None for ImgBed's kinds this site has not."""
    lowered = value.strip().lower()
    if lowered in metadata.CHANNEL_ALIASES:
        return metadata.CHANNEL_ALIASES[lowered]
    if lowered in kinds.KINDS:
        return lowered
    if lowered in metadata.IMGBED_ONLY_CHANNELS:
        return None
    known = sorted({*kinds.KINDS, "CloudflareR2", "S3", "WebDAV"})
    raise BadInput(f"channel: {value!r} is not a channel kind. Use one of {', '.join(known)}.")


@dataclass
class ListQuery:
    start: int = 0
    count: int = DEFAULT_COUNT
    sum: bool = False
    dir: str = ""
    recursive: bool = False
    search: str = ""
    where: list = field(default_factory=list)  # Q objects, all of which a file must match
    nothing: bool = False  # a filter no file can match (an unknown tag, a channel kind not here)
    # Files left out of everything that are few (blocked ones): the unfiltered counts, which come
    # from the indexes alone, less theirs, which come from their own rows.
    hidden: Q | None = None
    # Whether the files below the folder are counted too (ImgBed's totalCount); not needed by a
    # listing of the folder's own files that gives only their count. Without it, total is None.
    tree_total: bool = True

    @property
    def folder(self) -> str:
        return self.dir.removesuffix("/")


def parse(params) -> ListQuery:
    query = ListQuery()
    query.start = max(0, integer(params, "start", 0))
    query.count = integer(params, "count", DEFAULT_COUNT)
    if query.count == 0 or query.count < -1:
        raise BadInput("count must be at least 1, or -1 for all files.")
    query.sum = params.get("sum") == "true"
    query.recursive = params.get("recursive") == "true"
    query.dir = normalise_dir(params.get("dir", ""))
    query.search = params.get("search", "").strip()
    if query.search:
        query.where.append(Q(original_name__icontains=query.search) | Q(public_id__icontains=query.search))
    _channel_filters(query, params)
    _state_filters(query, params)
    _tag_filters(query, params)
    return query


def _channel_filters(query, params):
    wanted = [v for v in params.get("channel", "").split(",") if v.strip()]
    if wanted:
        found = {_kind(v) for v in wanted} - {None}
        ids = list(Channel.objects.filter(kind__in=found).values_list("pk", flat=True))
        query.where.append(Q(channel_id__in=ids))
    names = [v.strip() for v in params.get("channelName", "").split(",") if v.strip()]
    if names:
        match = Q(pk__in=[])
        for value in names:
            if ":" in value:  # ImgBed's Type:Name
                kind, name = value.split(":", 1)
                found = _kind(kind)
                if found is not None:
                    match |= Q(kind=found, name=name)
            else:
                match |= Q(name=value)
        query.where.append(Q(channel_id__in=list(Channel.objects.filter(match).values_list("pk", flat=True))))


def _state_filters(query, params):
    list_types = _choices(params, "listType", LIST_TYPES)
    if list_types:
        # ImgBed's None also matches files with no ListType at all.
        query.where.append(Q(list_type__in=list_types + ([""] if "None" in list_types else [])))
    access = _choices(params, "accessStatus", ACCESS)
    if access and set(access) != set(ACCESS):
        blocked = Q(list_type=StoredFile.ListType.BLOCK)
        query.where.append(blocked if access == ["blocked"] else ~blocked)
    labels = _choices(params, "label", LABELS)
    if labels and "normal" not in labels:
        query.nothing = True  # no file here has a moderation label: all are "normal"
    file_types = _choices(params, "fileType", FILE_TYPES)
    if file_types:
        query.where.append(of_file_types(file_types))


def of_file_types(file_types) -> Q:
    """Files of any of these FILE_TYPES, by MIME prefix (`other`: none of image, video, audio)."""
    match = Q(pk__in=[])
    for kind in FILE_TYPES[:3]:
        if kind in file_types:
            match |= Q(content_type__startswith=f"{kind}/")
    if "other" in file_types:
        known = Q(pk__in=[])
        for kind in FILE_TYPES[:3]:
            known |= Q(content_type__startswith=f"{kind}/")
        match |= ~known
    return match


def _tag_filters(query, params):
    try:
        include = tags.parse_list(params.get("includeTags", ""))
        exclude = tags.parse_list(params.get("excludeTags", ""))
    except tags.BadTags as exc:
        raise BadInput(str(exc), invalidTags=exc.bad) from None
    ids = dict(Tag.objects.filter(name__in=include + exclude).values_list("name", "id"))
    for name in include:  # all of them
        if name not in ids:
            query.nothing = True
            return
        query.where.append(Q(pk__in=FileTag.objects.filter(tag_id=ids[name]).values("file_id")))
    excluded = [ids[name] for name in exclude if name in ids]  # none of them
    if excluded:
        query.where.append(~Q(pk__in=FileTag.objects.filter(tag_id__in=excluded).values("file_id")))


def below(prefix: str) -> Q:
    """Files in folders under `prefix` ("a/b/"). SQLite's LIKE never uses an index (it ignores
    case), so there it is the same range of folders in code point order: "a/b/" up to "a/b0"."""
    if connection.vendor == "sqlite":
        return Q(folder__gte=prefix, folder__lt=prefix[:-1] + chr(ord("/") + 1))
    return Q(folder__startswith=prefix)


def _tree(query):
    """Every live file in the folder and below it, whatever the filters say."""
    files = StoredFile.objects.filter(LIVE)
    if query.folder:
        files = files.filter(Q(folder=query.folder) | below(query.dir))
    return files


def _under(query):
    """The files the filters match in the folder and below it."""
    if query.nothing:
        return StoredFile.objects.none()
    files = _tree(query).filter(*query.where)
    return files if query.hidden is None else files.exclude(query.hidden)


def _per_folder(files) -> dict:
    """{folder: matching files in it}, in one pass."""
    return dict(files.order_by().values("folder").annotate(n=Count("pk")).values_list("folder", "n"))


def _top_folders() -> list[str]:
    """Every folder holding a live file, one index seek each (a loose index scan) rather than a
    pass over every file: the top of an unfiltered listing."""
    table = StoredFile._meta.db_table
    live = "deleted_at IS NULL AND NOT receiving"  # uploads.models.LIVE, as its indexes say it
    sql = f"""
        WITH RECURSIVE seen(folder) AS (
            SELECT MIN(folder) FROM {table} WHERE {live} AND folder > ''
            UNION ALL
            SELECT (SELECT MIN(folder) FROM {table} WHERE {live} AND folder > seen.folder)
            FROM seen WHERE seen.folder IS NOT NULL
        )
        SELECT folder FROM seen WHERE folder IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def _counts(query, under):
    """(files in the tree, files directly in the folder, the folders below it that hold some)."""
    if query.where or query.nothing:  # filtered: one pass that counts them all
        folders = _per_folder(under)
        return sum(folders.values()), folders.get(query.folder, 0), folders
    tree = _tree(query)
    total = tree.count() if query.tree_total or query.recursive else None
    direct = tree.filter(folder=query.folder).count()
    if query.dir:
        folders = tree.filter(below(query.dir)).order_by().values_list("folder", flat=True).distinct()
    else:
        folders = _top_folders()
    if query.hidden is not None:
        return _less_hidden(query, tree, total, direct, folders)
    return total, direct, folders


def _less_hidden(query, tree, total, direct, folders):
    """The counts without the hidden files; a folder below whose files are all hidden is left out."""
    hidden = _per_folder(tree.filter(query.hidden))
    if not hidden:
        return total, direct, folders
    below_here = [f for f in hidden if f != query.folder]
    files = _per_folder(tree.filter(folder__in=below_here)) if below_here else {}
    emptied = {f for f in below_here if files.get(f, 0) == hidden[f]}
    return (
        None if total is None else total - sum(hidden.values()),
        direct - hidden.get(query.folder, 0),
        [f for f in folders if f not in emptied],
    )


def _children(folders, query) -> list[str]:
    """The folder's immediate subfolders that hold a matching file: full paths, no trailing slash."""
    found = {query.dir + f[len(query.dir) :].split("/", 1)[0] for f in folders if f != query.folder}
    return sorted(found)


def _batched(ids):
    for at in range(0, len(ids), BATCH):
        yield ids[at : at + BATCH]


def rows_of(ids, files) -> list[StoredFile]:
    """The rows of `files` (a queryset saying which fields to load) with these ids, in their order."""
    rows = {}
    for chunk in _batched(ids):
        rows.update(files.in_bulk(chunk))
    return [rows[pk] for pk in ids if pk in rows]


def _rows(ids) -> list[StoredFile]:
    return rows_of(ids, StoredFile.objects.select_related("channel").only(*metadata.FIELDS))


def _tags(ids) -> dict:
    found = {}
    for chunk in _batched(ids):
        found.update(tags.of_files(chunk))
    return found


@dataclass
class Page:
    ids: list  # the page's files, newest first
    total: int | None  # matching files in the folder and below it (None: not counted)
    direct: int  # matching files in the folder itself
    directories: list  # its immediate subfolders holding a matching file


def page(query: ListQuery) -> Page:
    """The ids of one page of files, with the counts and subfolders around it: the same few
    queries (the counts, the folders, the page), whatever the folder holds."""
    under = _under(query)
    total, direct, folders = _counts(query, under)
    available = total if query.recursive else direct
    ids = []
    start = 0 if query.count == -1 else query.start  # ImgBed: all of them, whatever start says
    if start < available:
        source = under if query.recursive else under.filter(folder=query.folder)
        ordered = source.order_by("-created_at", "-id").values_list("pk", flat=True)
        if query.count != -1:
            ordered = ordered[query.start : query.start + query.count]
        ids = list(ordered)
    return Page(ids, total, direct, _children(folders, query))


def respond(query: ListQuery) -> dict:
    now = int(time.time() * 1000)
    if query.sum and query.count == -1:
        return {"sum": _under(query).count(), "indexLastUpdated": now}
    found = page(query)
    rows = _rows(found.ids)
    file_tags = _tags(found.ids)
    return {
        "files": [metadata.entry(row, file_tags.get(row.pk, [])) for row in rows],
        "directories": found.directories,
        "totalCount": found.total,
        "directFileCount": found.direct,
        "directFolderCount": len(found.directories),
        "returnedCount": len(rows),
        "indexLastUpdated": now,
        "isIndexedResponse": True,
    }
