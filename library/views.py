"""ImgBed's management API (/api/manage/...): its paths, parameters and answers, with real
status codes. Each view names the permission its route needs (library.access)."""

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from channels.models import Channel
from library import listing, metadata, moves, tags
from library.access import BadInput, answer, endpoint, read_json
from uploads import lifecycle
from uploads.models import LIVE, StoredFile

MAX_BATCH = 10_000
MAX_FILE_NAME = StoredFile._meta.get_field("original_name").max_length
MAX_FILE_TYPE = StoredFile._meta.get_field("content_type").max_length
ANY = None  # ImgBed answers these on any method; only the reading ones skip a session's CSRF check
CHANGES = ()


def _folder_flag(request) -> bool:
    return request.GET.get("folder") == "true"


def _file(file_id) -> StoredFile:
    stored = moves.live(file_id)
    if stored is None:
        raise BadInput("File not found.", 404, fileId=file_id)
    return stored


def _folder(file_id) -> str:
    folder = file_id.strip("/")
    if not folder:
        raise BadInput("Name the folder: the whole site is not one folder here.")
    return folder


@endpoint("list", methods=("GET", "HEAD"))
def list_files(request):
    return answer(listing.respond(listing.parse(request.GET)))


@endpoint("delete", methods=ANY, reads=CHANGES)
def delete(request, file_id):
    if _folder_flag(request):
        folder = _folder(file_id)
        with transaction.atomic():
            files = list(moves.files_under(folder).order_by("public_id"))
            for stored in files:
                lifecycle.delete(stored)
        if not files:
            raise BadInput(f"No files in the folder {folder}.", 404)
        return answer({"success": True, "deleted": [f.public_id for f in files], "failed": []})
    stored = StoredFile.objects.filter(public_id=file_id, receiving=False).first()
    if stored is None:
        raise BadInput("File not found.", 404, fileId=file_id)
    with transaction.atomic():
        lifecycle.delete(stored)  # already deleted: nothing to do, and the file is gone as asked
    return answer({"success": True, "fileId": file_id})


@endpoint("manage", methods=ANY, reads=CHANGES)
def move(request, file_id):
    dist = moves.clean_dist(request.GET.get("dist", ""))
    if _folder_flag(request):
        folder = _folder(file_id)
        if not moves.files_under(folder).exists():
            raise BadInput(f"No files in the folder {folder}.", 404)
        try:
            processed, failed = moves.move_folder(folder, dist)
        except moves.Conflict as exc:
            raise BadInput(str(exc), 409) from None
        body = {
            "success": not failed,
            "processed": processed,
            "failed": [f["fileId"] for f in failed],
            "errors": failed,
        }
        return answer(body, 200 if not failed else 207 if processed else 409)
    stored = _file(file_id)
    try:
        new_id = moves.move(stored, moves.join(dist, stored.name))
    except moves.Conflict as exc:
        raise BadInput(str(exc), 409, fileId=file_id) from None
    return answer({"success": True, "fileId": file_id, "newFileId": new_id})


@endpoint("manage", methods=("POST",))
def rename(request, file_id):
    new_id = moves.clean_id(read_json(request).get("newFileId"))
    stored = _file(file_id)
    try:
        moves.move(stored, new_id)
    except moves.Conflict as exc:
        raise BadInput(str(exc), 409, fileId=file_id) from None
    return answer(
        {"success": True, "newFileId": new_id, "metadata": metadata.of(stored, tags.of_file(stored.pk))}
    )


def _file_name(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput("FileName must be a non-empty string.")
    if len(value) > MAX_FILE_NAME or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadInput(f"FileName must be at most {MAX_FILE_NAME} characters, without control characters.")
    return value


def _file_type(value) -> str:
    media = value.strip().lower() if isinstance(value, str) else ""
    kind, slash, subtype = media.partition("/")
    token = set("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")
    if (
        not (slash and kind and subtype and set(kind) <= token and set(subtype) <= token)
        or len(media) > MAX_FILE_TYPE
    ):
        raise BadInput(f"FileType must be a MIME type like image/png, not {value!r}.")
    return media


@endpoint("manage", methods=("PATCH",))
def edit_metadata(request, file_id):
    body = read_json(request)
    changes = {}
    if "FileName" in body:
        changes["original_name"] = _file_name(body["FileName"])
    if "FileType" in body:
        # Only the label: serving still never shows active content inline, whatever it is called.
        changes["content_type"] = _file_type(body["FileType"])
    if not changes:
        raise BadInput("Give FileName or FileType (or both).")
    stored = _file(file_id)
    StoredFile.objects.filter(pk=stored.pk).update(**changes)
    for name, value in changes.items():
        setattr(stored, name, value)
    return answer({"success": True, "metadata": metadata.of(stored, tags.of_file(stored.pk))})


def _tag_change(body):
    action = body.get("action", "set")
    if action not in tags.ACTIONS:
        raise BadInput(f"action must be one of {', '.join(tags.ACTIONS)}.")
    try:
        return action, tags.normalise(body.get("tags", []))
    except TypeError as exc:
        raise BadInput(str(exc)) from None
    except tags.BadTags as exc:
        raise BadInput(str(exc), invalidTags=exc.bad) from None


@endpoint("manage", methods=("GET", "POST"))
def file_tags(request, file_id):
    if request.method == "GET":
        stored = _file(file_id)
        return answer({"success": True, "fileId": file_id, "tags": tags.of_file(stored.pk)})
    action, given = _tag_change(read_json(request))
    stored = _file(file_id)
    now = tags.apply(stored, action, given)
    return answer(
        {
            "success": True,
            "fileId": file_id,
            "action": action,
            "tags": now,
            "metadata": metadata.of(stored, now),
        }
    )


@endpoint("manage", methods=("POST",))
def tags_batch(request):
    body = read_json(request)
    file_ids = body.get("fileIds")
    if not isinstance(file_ids, list) or not file_ids or not all(isinstance(i, str) for i in file_ids):
        raise BadInput("fileIds must be a non-empty list of file ids.")
    if len(file_ids) > MAX_BATCH:
        raise BadInput(f"At most {MAX_BATCH} fileIds at once.")
    action, given = _tag_change(body)
    found = {}
    for at in range(0, len(file_ids), 500):
        found.update(
            (f.public_id, f) for f in StoredFile.objects.filter(LIVE, public_id__in=file_ids[at : at + 500])
        )
    updated, errors = 0, []
    for file_id in file_ids:
        if file_id not in found:
            errors.append({"fileId": file_id, "error": "File not found"})
            continue
        tags.apply(found[file_id], action, given)
        updated += 1
    body = {"success": not errors, "total": len(file_ids), "updated": updated, "errors": errors}
    return answer(body, 207 if errors else 200)


@endpoint("manage", methods=("GET",))
def tags_autocomplete(request):
    prefix = request.GET.get("prefix", "")
    raw = request.GET.get("limit", "").strip() or "20"
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise BadInput("limit must be a whole number from 1 to 100.")
    found = list(
        tags.in_use()
        .filter(name__startswith=prefix.strip().lower())
        .order_by("name")
        .values_list("name", flat=True)[: limit + 1]
    )
    return answer(
        {
            "success": True,
            "prefix": prefix,
            "tags": found[:limit],
            "total": len(found[:limit]),
            "hasMore": len(found) > limit,
        }
    )


def _set_list_type(list_type):
    @endpoint("manage", methods=ANY, reads=CHANGES)
    def view(request, file_id):
        stored = _file(file_id)
        StoredFile.objects.filter(pk=stored.pk).update(list_type=list_type)
        return answer({"success": True, "listType": list_type})

    return view


block = _set_list_type(StoredFile.ListType.BLOCK)
white = _set_list_type(StoredFile.ListType.WHITE)
normal = _set_list_type(StoredFile.ListType.NONE)


def _quota():
    stats = {name: {"usedMB": 0.0, "fileCount": 0} for name in Channel.objects.values_list("name", flat=True)}
    total_size = total_count = 0
    rows = (
        StoredFile.objects.filter(LIVE).values("channel__name").annotate(size=Sum("size"), files=Count("pk"))
    )
    for row in rows.order_by():
        size = row["size"] or 0
        stats[row["channel__name"]] = {"usedMB": round(size / 1024 / 1024, 2), "fileCount": row["files"]}
        total_size += size
        total_count += row["files"]
    return stats, round(total_size / 1024 / 1024, 2), total_count


@endpoint("manage", methods=("GET", "POST"), reads=("GET",))
def quota(request):
    stats, total_mb, total_count = _quota()
    now = metadata.milliseconds(timezone.now())
    if request.method == "POST":  # ImgBed's "count again": the figures are always counted live here
        return answer(
            {
                "success": True,
                "message": "Quota recalculated successfully",
                "channelStats": stats,
                "totalSizeMB": total_mb,
                "totalCount": total_count,
                "totalUniqueFiles": total_count,
            }
        )
    return answer(
        {
            "success": True,
            "quotaStats": stats,
            "totalSizeMB": total_mb,
            "totalCount": total_count,
            "lastUpdated": now,
        }
    )
