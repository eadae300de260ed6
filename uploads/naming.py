"""ImgBed-compatible file names and ids."""

import random
import string
import time
import unicodedata

UNSAFE = set("\\/:*?\"'<>|()[]{}#%^`~;@&=+$,")
RESERVED = (
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
)
NAME_TYPES = ("default", "index", "origin", "short")
BASE62 = string.digits + string.ascii_letters


def _split_ext(name):
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip("._"):
        return name, ""
    return stem, ext


def clean_name(name: str, max_length: int = 200) -> str:
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = []
    for ch in name:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        kept.append("_" if ch in UNSAFE or ch.isspace() else ch)
    name = "".join(kept).lstrip("._")
    stem, ext = _split_ext(name)
    if stem.upper() in RESERVED:
        stem += "_"
    if not stem:
        stem = "file"
    suffix = f".{ext}" if ext else ""
    budget = max_length - len(suffix.encode())
    while len(stem.encode()) > budget:
        stem = stem[:-1]
    return stem + suffix


def clean_folder(folder: str) -> str:
    parts = [p for p in (folder or "").replace("\\", "/").split("/") if p and p != "."]
    if any(p == ".." for p in parts):
        raise ValueError("uploadFolder may not contain '..'.")
    if len(parts) > 10:
        raise ValueError("uploadFolder may have at most 10 levels.")
    return "/".join(clean_name(p, 100) for p in parts)


def make_id(name_type, clean, extension, *, exists, next_index, now_ms=None, rand=None) -> str:
    now_ms = now_ms or (lambda: int(time.time() * 1000))
    rand = rand or random.SystemRandom()
    suffix = f".{extension}" if extension else ""
    if name_type == "default":
        # ImgBed: Date.now() + a random 0-9999, then the name.
        return f"{now_ms() + rand.randint(0, 9999)}_{clean}"
    if name_type == "index":
        n = next_index()
        while exists(f"{n}{suffix}"):
            n += 1
        return f"{n}{suffix}"
    if name_type == "origin":
        if not exists(clean):
            return clean
        stem, ext = _split_ext(clean)
        dot = f".{ext}" if ext else ""
        n = 1
        while exists(f"{stem}({n}){dot}"):
            n += 1
        return f"{stem}({n}){dot}"
    if name_type == "short":
        while True:
            candidate = "".join(rand.choice(BASE62) for _ in range(8)) + suffix
            if not exists(candidate):
                return candidate
    raise ValueError(f"uploadNameType must be one of {', '.join(NAME_TYPES)}.")
