"""GET /random: ImgBed's parameters, and one matching file drawn uniformly at random.

The draw never loads the matching files. It first probes: ids drawn uniformly from the table's
id range, looked up by primary key, PROBES[0] of them in one query and, if none is a matching
file, PROBES[1] more in another; the first of them (in the order drawn) that is a matching file
wins. Each probe that lands on a matching file lands on any of them with the same chance, so the
winner is exactly uniform. With files that are most of the table (random images over a whole
site) the first probes hit, and the draw costs two index lookups; the second round still finds
files that are one in a hundred. When every probe misses (the filters keep fewer: a folder and
an orientation), it counts the matching files and reads the one at a uniformly drawn offset of
the id order: exact too, at the price of a pass over the matching files. Either way each file
has 1/N.
"""

import random
import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Q
from django.db.models.lookups import GreaterThan, LessThan

from library import listing, visibility
from library.access import BadInput
from uploads.models import LIVE, StoredFile

PROBES = (32, 480)  # ids per round; SQLite takes up to 999 parameters in a query
ORIENTATIONS = ("landscape", "portrait", "square", "auto")
TYPES = ("", "path", "url", "img")  # "" and path: the relative /file/<id>
FORMS = ("", "json", "text")
DEFAULT_CONTENT = ("image",)
# A MIME type's characters (RFC 6838), which is all `content` is matched against.
_CONTENT_WORD = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+/-]*$")
# Phones, not tablets: an Android tablet leaves "Mobile" out of its user agent, an iPad says iPad.
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.+Mobile|Windows Phone|Opera Mini|BlackBerry|IEMobile", re.I)

_rng = random.SystemRandom()  # never the same sequence in two worker processes


@dataclass(frozen=True)
class RandomQuery:
    contents: tuple = DEFAULT_CONTENT
    folder: str | None = None  # None: every folder /random may pick from
    orientation: str = ""  # landscape, portrait, square, or "" for any shape
    type: str = ""
    form: str = ""


def _choice(params, name, allowed) -> str:
    value = params.get(name, "").strip().lower()
    if value not in allowed:
        shown = ", ".join(a for a in allowed if a)
        raise BadInput(f"{name} must be one of {shown} (or left out), not {params.get(name)!r}.")
    return value


def _contents(params) -> tuple:
    raw = params.get("content", "")
    words = tuple(w.strip().lower() for w in raw.split(",") if w.strip())
    bad = [w for w in words if not _CONTENT_WORD.match(w)]
    if bad:
        raise BadInput(
            f"content: {', '.join(repr(w) for w in bad)} cannot be part of a MIME type. Give words of "
            "one, comma-separated: image, video, image/png."
        )
    return words or DEFAULT_CONTENT


def shape(width: int, height: int) -> str:
    """ImgBed's orientation of a width and height: landscape above 1.1, portrait below 0.9."""
    if 10 * width > 11 * height:
        return "landscape"
    if 10 * width < 9 * height:
        return "portrait"
    return "square"


def _viewport(headers) -> tuple[int, int] | None:
    """The viewport from client hints (Sec-CH-Viewport-Width / -Height, or the older Viewport-Width)."""
    sizes = []
    for names in (("Sec-CH-Viewport-Width", "Viewport-Width"), ("Sec-CH-Viewport-Height",)):
        value = next((headers.get(n) for n in names if headers.get(n)), "")
        try:
            sizes.append(int(float(value)))
        except (ValueError, OverflowError):  # not a number, nan, inf
            return None
    width, height = sizes
    return (width, height) if width > 0 and height > 0 else None


def auto_orientation(headers) -> str:
    """The orientation that fills this screen: the viewport's when the browser says it, else
    portrait for a phone (Sec-CH-UA-Mobile, or its user agent) and landscape for anything else."""
    viewport = _viewport(headers)
    if viewport is not None:
        return shape(*viewport)
    mobile = headers.get("Sec-CH-UA-Mobile", "").strip()
    if mobile in ("?1", "?0"):
        return "portrait" if mobile == "?1" else "landscape"
    return "portrait" if _MOBILE.search(headers.get("User-Agent", "")) else "landscape"


def parse(params, headers, rules) -> RandomQuery:
    """The request's parameters, checked; BadInput (400, or 403 for a folder not open) in words."""
    orientation = _choice(params, "orientation", ("", *ORIENTATIONS))
    if orientation == "auto":
        orientation = auto_orientation(headers)
    folder = None
    if params.get("dir", "").strip():
        folder = listing.normalise_dir(params["dir"].strip()).removesuffix("/")
        if not rules.random_allows(folder):
            raise BadInput(
                f"Directory not allowed: /random does not pick from {folder or 'the top folder'}. "
                f"It may pick from {', '.join(rules.random_folders)} (each with its subfolders).",
                403,
            )
    return RandomQuery(
        contents=_contents(params),
        folder=folder,
        orientation=orientation,
        type=_choice(params, "type", TYPES),
        form=_choice(params, "form", FORMS),
    )


def matching(query: RandomQuery, rules):
    """The files this query may draw: live, served under the rules, in its folders, of its kinds."""
    # parse() checked that the folder asked for is one of them.
    folders = (
        visibility.in_any(rules.random_folders) if query.folder is None else visibility.in_tree(query.folder)
    )
    files = StoredFile.objects.filter(LIVE, visibility.servable(rules), folders)
    kinds = Q(pk__in=[])
    for word in query.contents:
        kinds |= Q(content_type__icontains=word)
    files = files.filter(kinds)
    if query.orientation:
        files = files.filter(width__gt=0, height__gt=0).filter(_orientation(query.orientation))
    return files


def _orientation(name):
    """In whole numbers, as shape() decides: 10 w > 11 h is landscape, 10 w < 9 h portrait."""
    wide, tall = GreaterThan(F("width") * 10, F("height") * 11), LessThan(F("width") * 10, F("height") * 9)
    if name == "landscape":
        return Q(wide)
    if name == "portrait":
        return Q(tall)
    return ~Q(wide) & ~Q(tall)


def _id_range() -> tuple[int, int] | None:
    """The lowest and highest id in the table, each from the primary key's index (SQLite reads the
    whole table for MIN and MAX in one SELECT, so each has its own)."""
    table = connection.ops.quote_name(StoredFile._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT MIN(id) FROM {table}), (SELECT MAX(id) FROM {table})")  # noqa: S608
        low, high = cursor.fetchone()
    return None if low is None else (low, high)


def pick(files) -> str | None:
    """The public id of one of `files`, each with the same chance; None when there is none."""
    span = _id_range()
    if span is None:
        return None
    for probes in PROBES:
        draws = [_rng.randint(*span) for _ in range(probes)]
        hits = dict(files.filter(pk__in=set(draws)).values_list("pk", "public_id"))
        for drawn in draws:
            if drawn in hits:
                return hits[drawn]
    # A file deleted between the count and the read shifts the offsets: count again.
    for _ in range(3):
        total = files.count()
        if total == 0:
            return None
        at = _rng.randrange(total)
        found = list(files.order_by("pk").values_list("public_id", flat=True)[at : at + 1])
        if found:
            return found[0]
    return None
