"""ImgBed-compatible file names, folders and public ids.

ImgBed's own rules (functions/upload/uploadTools.js) are followed where
clients can see them: the unsafe characters become `_`, `default` ids are
`Date.now() + random(0-9999)` then `_name`, a taken `origin` name gets `(1)`,
`(2)`... Beyond ImgBed, names also lose control and invisible characters,
path prefixes, hidden-file dots and Windows device names, and are trimmed to a
byte length storage backends accept.
"""

import random
import re
import string
import time
import unicodedata
from collections.abc import Callable

NAME_TYPES = ("default", "index", "origin", "short")
MAX_FOLDER_DEPTH = 10
MAX_SEGMENT_LENGTH = 100  # UTF-8 bytes per folder segment

UNSAFE = frozenset("\\/:*?\"'<>|()[]{}#%^`~;@&=+$,")
# Other (Cc), format (Cf: bidi overrides, zero-width characters, BOM) and lone surrogates (Cs, which
# cannot be stored as UTF-8). Invisible characters make names that look like other names.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Windows refuses these as a name, whatever follows the first dot (NUL.tar.gz too).
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
# An extension is short and plain; anything else after the last dot is part of the stem.
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,16}")
_SEPARATORS = re.compile(r"[/\\]")
_BASE62 = string.digits + string.ascii_letters
_MAX_ATTEMPTS = 10_000
_SHORT_ATTEMPTS = 100


class NoFreeId(RuntimeError):
    """Every candidate id was taken."""


def split_extension(name: str) -> tuple[str, str]:
    """(stem, extension without the dot); the extension is "" when the name has none."""
    stem, dot, ext = name.rpartition(".")
    if dot and _EXTENSION.fullmatch(ext):
        return stem, ext
    return name, ""


def clean_name(name: str, max_length: int = 200) -> str:
    """A file name safe for URLs and every storage: never empty, never a path, at most max_length UTF-8 bytes."""
    if max_length < 32:  # room for a 16-character extension and a stem
        raise ValueError("max_length must be at least 32 bytes.")
    name = _SEPARATORS.split(unicodedata.normalize("NFC", name or ""))[-1]
    # Surrounding whitespace is an accident (and Windows drops trailing spaces); inner spaces become `_`.
    name = _replace_unsafe(_drop_invisible(name).strip())
    stem, ext = split_extension(name)
    stem = stem.lstrip(".")  # a leading dot hides a file; `..png` keeps its extension as `file.png`
    if not ext:
        stem = stem.rstrip(".")  # Windows drops a trailing dot
    if not stem.strip("._"):
        stem = "file"  # nothing but dots and separators: as good as empty
    stem = _unreserved(stem)
    suffix = f".{ext}" if ext else ""
    budget = max_length - len(suffix.encode())
    stem = _truncate_utf8(stem, budget)
    if not ext:
        stem = stem.rstrip(".")
    return (stem or "file") + suffix


def clean_folder(folder: str) -> str:
    """ "a/b" from an uploadFolder value: "" for none; ValueError for `..` or more than 10 levels."""
    segments = []
    for raw in _SEPARATORS.split(unicodedata.normalize("NFC", folder or "")):
        # Windows drops trailing dots and spaces, so ".. " and "..." would climb out too.
        segment = _drop_invisible(raw).strip()
        if segment in ("", "."):
            continue
        if set(segment) == {"."}:
            raise ValueError("uploadFolder may not contain '..'")
        segment = _unreserved(_replace_unsafe(segment).strip("."))
        segment = _truncate_utf8(segment, MAX_SEGMENT_LENGTH).rstrip(".")
        if segment:
            segments.append(segment)
    if len(segments) > MAX_FOLDER_DEPTH:
        raise ValueError(f"uploadFolder may have at most {MAX_FOLDER_DEPTH} levels, not {len(segments)}.")
    return "/".join(segments)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_SYSTEM_RANDOM = random.SystemRandom()


def make_id(
    name_type: str,
    clean: str,
    extension: str,
    *,
    exists: Callable[[str], bool],
    next_index: Callable[[], int],
    now_ms: Callable[[], int] = _now_ms,
    rand: random.Random = _SYSTEM_RANDOM,
) -> str:
    """The public id (without folder) for a file named `clean` (already cleaned).

    `extension` (without the dot) is used by `index` and `short` when the name has none; pass the sniffed
    one. `exists(candidate)` says whether an id is taken; the caller prefixes its folder.
    """
    name_ext = split_extension(clean)[1] or extension.lstrip(".")
    suffix = f".{name_ext}" if name_ext else ""
    if name_type == "default":
        # ImgBed: Date.now() + Math.floor(Math.random() * 10000), so still 13 digits.
        return _numbered(f"{now_ms() + rand.randint(0, 9999)}_{clean}", exists)
    if name_type == "index":
        number = next_index()
        for _ in range(_MAX_ATTEMPTS):
            if not exists(f"{number}{suffix}"):
                return f"{number}{suffix}"
            number += 1  # numbers stay numbers: after a deletion the count lags behind the ids
        raise NoFreeId(f"No free index id after {_MAX_ATTEMPTS} tries.")
    if name_type == "origin":
        return _numbered(clean, exists)
    if name_type == "short":
        for _ in range(_SHORT_ATTEMPTS):
            candidate = "".join(rand.choice(_BASE62) for _ in range(8)) + suffix
            if not exists(candidate):
                return candidate
        raise NoFreeId(f"No free short id after {_SHORT_ATTEMPTS} tries.")
    raise ValueError(f"uploadNameType must be one of {', '.join(NAME_TYPES)}, not {name_type!r}.")


def _numbered(name: str, exists: Callable[[str], bool]) -> str:
    """`name` if free, else `stem(1).ext`, `stem(2).ext`... as ImgBed numbers duplicates."""
    if not exists(name):
        return name
    stem, ext = split_extension(name)
    suffix = f".{ext}" if ext else ""
    for counter in range(1, _MAX_ATTEMPTS):
        candidate = f"{stem}({counter}){suffix}"
        if not exists(candidate):
            return candidate
    raise NoFreeId(f"No free id for {name!r} after {_MAX_ATTEMPTS} tries.")


def _drop_invisible(text: str) -> str:
    # Tabs and line breaks are controls too, but they separate words: they become `_` like spaces.
    kept = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    # A dropped character may have separated a letter from its combining mark.
    return unicodedata.normalize("NFC", kept)


def _replace_unsafe(text: str) -> str:
    return "".join("_" if ch in UNSAFE or ch.isspace() else ch for ch in text)


def _unreserved(stem: str) -> str:
    device, dot, rest = stem.partition(".")
    if device.upper() in _RESERVED:
        return f"{device}_{dot}{rest}"
    return stem


def _truncate_utf8(text: str, max_bytes: int) -> str:
    # Cutting the bytes may split a character; "ignore" drops the partial one.
    return text.encode()[:max_bytes].decode("utf-8", "ignore")


def remote_path_of(root_directory: str, public_id: str) -> str:
    """Where the file with this id lives on a channel with this root directory."""
    return f"{root_directory}/{public_id}"
