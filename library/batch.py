"""The admin's batch actions, one outcome per file: what happened to it, or why nothing did.

Each file goes through the same library functions as the management API (moves.move, tags.apply,
lifecycle.delete), so a batch is refused per file where the API would refuse it, and one file's
refusal never stops the others.
"""

from dataclasses import dataclass

from django.db import transaction

from library import moves, tags
from uploads import lifecycle
from uploads.models import StoredFile

MAX_FILES = 1000  # per batch: each file's outcome is on the page that follows
DONE, UNCHANGED, REFUSED = "done", "unchanged", "refused"
ACCESS_WORDS = {
    StoredFile.ListType.NONE: "normal",
    StoredFile.ListType.WHITE: "allowed (white)",
    StoredFile.ListType.BLOCK: "blocked",
}


@dataclass
class Outcome:
    pk: int
    file_id: str  # the id the file had when the batch began
    result: str  # DONE, UNCHANGED or REFUSED
    text: str


def _deleted(stored) -> bool:
    return stored.status == StoredFile.Status.DELETED or stored.deleted_at is not None


def access_of(stored) -> str:
    return ACCESS_WORDS.get(stored.list_type or StoredFile.ListType.NONE, stored.list_type)


def where(folder: str) -> str:
    return folder if folder else "the top level"


def move(files, folder: str) -> list[Outcome]:
    """Each file into `folder` (cleaned: moves.clean_dist), keeping its name; a taken id refuses that file."""
    outcomes = []
    for stored in files:
        old = stored.public_id
        if _deleted(stored):
            outcomes.append(Outcome(stored.pk, old, REFUSED, "Refused: a deleted file keeps its id."))
            continue
        if stored.receiving:
            outcomes.append(
                Outcome(
                    stored.pk, old, REFUSED, "Refused: still arriving; move it once its upload has finished."
                )
            )
            continue
        new = moves.join(folder, stored.name)
        if new == old:
            outcomes.append(Outcome(stored.pk, old, UNCHANGED, f"Already in {where(folder)}."))
            continue
        if len(new) > moves.MAX_ID:
            outcomes.append(
                Outcome(
                    stored.pk,
                    old,
                    REFUSED,
                    f"Refused: {new} would be longer than a file id may be ({moves.MAX_ID} characters).",
                )
            )
            continue
        try:
            moves.move(stored, new)
        except moves.Conflict as exc:
            outcomes.append(Outcome(stored.pk, old, REFUSED, f"Refused: {exc}"))
        else:
            outcomes.append(Outcome(stored.pk, old, DONE, f"Moved to {new}; its old link leads there."))
    return outcomes


def tag(files, action: str, given: list[str]) -> list[Outcome]:
    """tags.apply on each file: `action` is set, add or remove; `given` is normalised (tags.normalise)."""
    before = tags.of_files([f.pk for f in files])
    outcomes = []
    for stored in files:
        if _deleted(stored):
            outcomes.append(
                Outcome(stored.pk, stored.public_id, REFUSED, "Refused: a deleted file's tags are kept.")
            )
            continue
        now = tags.apply(stored, action, given)
        shown = ", ".join(now) if now else "none"
        if now == before.get(stored.pk, []):
            outcomes.append(Outcome(stored.pk, stored.public_id, UNCHANGED, f"Unchanged; its tags: {shown}."))
        else:
            outcomes.append(Outcome(stored.pk, stored.public_id, DONE, f"Tags now: {shown}."))
    return outcomes


def set_access(files, list_type: str) -> list[Outcome]:
    """Put each file on an access list (ImgBed's block, white or back to normal), in one update."""
    outcomes, changing = [], []
    wanted = ACCESS_WORDS[list_type]
    for stored in files:
        if _deleted(stored):
            outcomes.append(
                Outcome(stored.pk, stored.public_id, REFUSED, "Refused: a deleted file is served to no one.")
            )
        elif access_of(stored) == wanted:
            outcomes.append(Outcome(stored.pk, stored.public_id, UNCHANGED, f"Already {wanted}."))
        else:
            changing.append(stored.pk)
            outcomes.append(
                Outcome(stored.pk, stored.public_id, DONE, f"Now {wanted} (was {access_of(stored)}).")
            )
    StoredFile.objects.filter(pk__in=changing).update(list_type=list_type)
    return outcomes


def delete(files) -> list[Outcome]:
    outcomes = []
    with transaction.atomic():
        for stored in files:
            if _deleted(stored):
                outcomes.append(Outcome(stored.pk, stored.public_id, UNCHANGED, "Already deleted."))
                continue
            lifecycle.delete(stored)
            outcomes.append(
                Outcome(
                    stored.pk,
                    stored.public_id,
                    DONE,
                    "Deleted: its link stops working now; a worker removes the channel's copy.",
                )
            )
    return outcomes
