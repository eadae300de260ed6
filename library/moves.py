"""Moving and renaming files: a new public id, the old one kept as a FormerId (301 to the new link).

The move is a row update, whatever the file's size or channel; the remote item
follows in a task (uploads.relocation), and serving reads the row's remote
path throughout, so both links work before, during and after.
An id another file has, had (a deleted file's id stays its own), or left
behind as an old link is never taken: 409, never an overwrite.
"""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from library import listing
from library.access import BadInput
from uploads.models import LIVE, FormerId, StoredFile
from uploads.naming import clean_folder, clean_name
from uploads.relocation import relocate_remote
from uploads.tasks import send_after_commit

MAX_FOLDER = StoredFile._meta.get_field("folder").max_length
MAX_ID = StoredFile._meta.get_field("public_id").max_length
Status = StoredFile.Status


class Conflict(Exception):
    pass


def live(public_id):
    return StoredFile.objects.select_related("channel").filter(LIVE, public_id=public_id).first()


def folder_of(public_id: str) -> str:
    return public_id.rpartition("/")[0]


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def clean_dist(value: str) -> str:
    """A move's target folder, as ImgBed reads `dist` (slashes around it dropped), checked as
    uploadFolder is; "" is the top."""
    try:
        folder = clean_folder(value.strip().strip("/"))
    except ValueError as exc:
        raise BadInput(f"dist: {exc}") from None
    if len(folder) > MAX_FOLDER:
        raise BadInput(f"dist: a folder path is at most {MAX_FOLDER} characters.")
    return folder


def clean_id(value) -> str:
    """A new file id (rename): folders and a name as uploads make them, or 400 with the id that would be."""
    if not isinstance(value, str) or not value.strip().strip("/"):
        raise BadInput("newFileId is required: the file's new id, like a/b/new.png.")
    given = value.strip().strip("/")
    folder, _, name = given.rpartition("/")
    try:
        cleaned = join(clean_folder(folder), clean_name(name))
    except ValueError as exc:
        raise BadInput(f"newFileId: {exc}") from None
    if cleaned != given:
        raise BadInput(f"newFileId {given!r} has characters a file id cannot have; {cleaned!r} would do.")
    if len(cleaned) > MAX_ID or len(folder) > MAX_FOLDER:
        raise BadInput(f"newFileId is too long: at most {MAX_ID} characters, {MAX_FOLDER} of them folders.")
    return cleaned


def _taken(new_id, moving_pk) -> str | None:
    """Why `new_id` cannot be given to file `moving_pk`, or None."""
    return _why(new_id, moving_pk, *_holders([new_id]), leaving=())


def _holders(ids):
    """({id: status} of the files holding these ids, {id: (file pk, its id now)} of live old links)."""
    files, formers = {}, {}
    ids = list(ids)
    for at in range(0, len(ids), 500):
        chunk = ids[at : at + 500]
        files.update(StoredFile.objects.filter(public_id__in=chunk).values_list("public_id", "status"))
        rows = (
            FormerId.objects.filter(public_id__in=chunk)
            .exclude(file__status=Status.DELETED)
            .values_list("public_id", "file_id", "file__public_id")
        )
        formers.update((old, (pk, now)) for old, pk, now in rows)
    return files, formers


def _why(new_id, moving_pk, files, formers, leaving) -> str | None:
    """`leaving`: ids that files of the same move give up."""
    if new_id not in leaving:
        if files.get(new_id) == Status.DELETED:
            return f"{new_id} was a deleted file's id; its old links must not show another file."
        if new_id in files:
            return f"A file with the id {new_id} already exists."
    if new_id in formers and formers[new_id][0] != moving_pk:
        return f"{new_id} is the old link of {formers[new_id][1]}, which still leads there."
    return None


def _record(stored, new_id, retaken=()):
    """The row changes of one file moving to new_id (inside the caller's transaction). `retaken`:
    ids another file of the same move takes, which are no old links."""
    FormerId.objects.filter(public_id=new_id).delete()  # its own old id, or a deleted file's
    if stored.public_id not in retaken:
        FormerId.objects.update_or_create(public_id=stored.public_id, defaults={"file": stored})
    StoredFile.objects.filter(pk=stored.pk).update(
        public_id=new_id, folder=folder_of(new_id), updated_at=timezone.now()
    )
    send_after_commit(relocate_remote, stored.pk)


def move(stored: StoredFile, new_id: str) -> str:
    """Give the file the id new_id; Conflict says why not."""
    if new_id == stored.public_id:
        return new_id
    with transaction.atomic():
        # Locked as it was read: a request that moved or deleted it meanwhile wins.
        if not StoredFile.objects.select_for_update().filter(LIVE, pk=stored.pk, public_id=stored.public_id):
            raise Conflict(f"{stored.public_id} was moved or deleted meanwhile.")
        why = _taken(new_id, stored.pk)
        if why:
            raise Conflict(why)
        try:
            with transaction.atomic():
                _record(stored, new_id)
        except IntegrityError:  # taken at the same moment by another request or an upload
            raise Conflict(f"A file with the id {new_id} already exists.") from None
    stored.public_id, stored.folder = new_id, folder_of(new_id)
    return new_id


def files_under(folder: str):
    return StoredFile.objects.filter(LIVE).filter(Q(folder=folder) | listing.below(f"{folder}/"))


def move_folder(folder: str, dist: str):
    """Move the folder (with everything below it) into dist, keeping its name, as ImgBed does:
    a/b into c gives c/b/.... Returns (processed [{fileId, newFileId}], failed [{fileId, error}])."""
    try:
        plan, blocked = _move_all(folder, join(dist, folder.rpartition("/")[2]))
    except IntegrityError:  # an upload took one of the new ids meanwhile: nothing was moved
        raise Conflict(
            "Another file took one of the new ids meanwhile; nothing was moved. Try again."
        ) from None
    processed, failed = [], []
    for old, (_, new) in plan.items():
        if old in blocked:
            failed.append({"fileId": old, "error": blocked[old]})
        else:
            processed.append({"fileId": old, "newFileId": new})
    return processed, failed


@transaction.atomic
def _move_all(folder, base):
    """Move what can be moved: ({old id: (file, new id)}, {old id: why} of the files that stay)."""
    plan = {}
    for stored in files_under(folder).select_for_update().order_by("public_id"):
        plan[stored.public_id] = (stored, base + stored.public_id[len(folder) :])
    files, formers = _holders(new for _, new in plan.values())
    blocked = {}
    for old, (_, new) in plan.items():
        if old != new and (len(new) > MAX_ID or len(folder_of(new)) > MAX_FOLDER):
            blocked[old] = f"{new} would be longer than a file id may be."
    # Files of this move leave their ids, so another file of it may take one; a file that cannot
    # move keeps its id, which may in turn stop another: until nothing changes.
    while True:
        leaving = {old for old in plan if old not in blocked}
        newly = {}
        for old, (stored, new) in plan.items():
            if old not in blocked and old != new:
                why = _why(new, stored.pk, files, formers, leaving)
                if why:
                    newly[old] = why
        if not newly:
            break
        blocked.update(newly)
    moving = [(stored, new) for old, (stored, new) in plan.items() if old not in blocked and old != new]
    # Two steps, so that no id is held twice at any moment, whatever the order. "~" is never
    # in a file id (uploads.naming), so the stand-in ids are nobody's.
    for stored, _ in moving:
        StoredFile.objects.filter(pk=stored.pk).update(public_id=f"~moving~{stored.pk}")
    retaken = {new for _, new in moving}
    for stored, new in moving:
        _record(stored, new, retaken)
    return plan, blocked
