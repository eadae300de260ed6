"""Content type judged from a file's first bytes, never from its name."""

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str
    category: str


DEFAULT_ALLOWED = ("image", "video", "audio")

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image/png", "png", "image"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg", "image"),
    (b"GIF87a", "image/gif", "gif", "image"),
    (b"GIF89a", "image/gif", "gif", "image"),
    (b"BM", "image/bmp", "bmp", "image"),
    (b"\x00\x00\x01\x00", "image/x-icon", "ico", "image"),
    (b"II*\x00", "image/tiff", "tif", "image"),
    (b"MM\x00*", "image/tiff", "tif", "image"),
    (b"\xff\x0a", "image/jxl", "jxl", "image"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl", "jxl", "image"),
    (b"%PDF-", "application/pdf", "pdf", "document"),
    (b"PK\x03\x04", "application/zip", "zip", "archive"),
    (b"\x1f\x8b", "application/gzip", "gz", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed", "7z", "archive"),
    (b"Rar!\x1a\x07", "application/vnd.rar", "rar", "archive"),
    (b"\x1a\x45\xdf\xa3", "video/webm", "webm", "video"),
    (b"OggS", "audio/ogg", "ogg", "audio"),
    (b"fLaC", "audio/flac", "flac", "audio"),
    (b"ID3", "audio/mpeg", "mp3", "audio"),
]
_FTYP = {
    b"avif": ("image/avif", "avif", "image"),
    b"avis": ("image/avif", "avif", "image"),
    b"heic": ("image/heic", "heic", "image"),
    b"heix": ("image/heic", "heic", "image"),
    b"mif1": ("image/heif", "heif", "image"),
    b"qt  ": ("video/quicktime", "mov", "video"),
    b"M4A ": ("audio/mp4", "m4a", "audio"),
    b"3gp4": ("video/3gpp", "3gp", "video"),
    b"3gp5": ("video/3gpp", "3gp", "video"),
}
_ACTIVE_TAGS = re.compile(
    rb"<(!doctype\s+html|html|head|body|script|iframe|object|embed|meta|link|style|svg|a\s|img\s|div|p\b|table)",
    re.I,
)
_TEXT_TYPES = {"css": "text/css", "csv": "text/csv", "md": "text/markdown", "json": "application/json"}


def _riff(head):
    kind = head[8:12]
    return {
        b"WEBP": ("image/webp", "webp", "image"),
        b"WAVE": ("audio/wav", "wav", "audio"),
        b"AVI ": ("video/x-msvideo", "avi", "video"),
    }.get(kind)


def _text(head: bytes, name: str) -> Sniffed | None:
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multibyte character at the end is fine
            return None
        text = head[: exc.start].decode("utf-8")
    lead = text.lstrip("\ufeff \t\r\n").encode()
    lowered = lead[:1024].lower()
    body = re.sub(rb"<\?xml.*?\?>|<!--.*?-->|<!doctype(?!\s+html).*?>", b"", lowered, flags=re.S).lstrip()
    if body.startswith(b"<svg"):
        return Sniffed("image/svg+xml", "svg", "active")
    if _ACTIVE_TAGS.search(lowered[:512]) and lowered.startswith(b"<"):
        return Sniffed("text/html", "html", "active")
    if lowered.startswith(b"<?xml") or body.startswith(b"<"):
        return Sniffed("application/xml", "xml", "active")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in ("js", "mjs"):
        return Sniffed("text/javascript", "js", "active")
    if lead[:1] in (b"{", b"[") and ext in ("json", ""):
        return Sniffed("application/json", "json", "text")
    if ext in _TEXT_TYPES:
        return Sniffed(_TEXT_TYPES[ext], ext, "text")
    return Sniffed("text/plain", "txt", "text")


def sniff(head: bytes, name: str = "") -> Sniffed:
    for magic, content_type, ext, category in _MAGIC:
        if head.startswith(magic):
            return Sniffed(content_type, ext, category)
    if head[:4] == b"RIFF" and (riff := _riff(head)):
        return Sniffed(*riff)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP:
            return Sniffed(*_FTYP[brand])
        return Sniffed("video/mp4", "mp4", "video")
    # An MPEG audio frame header: sync bits, then a valid bitrate and sample rate.
    if (
        len(head) > 3
        and head[0] == 0xFF
        and head[1] & 0xE0 == 0xE0
        and head[2] & 0xF0 != 0xF0
        and head[2] & 0x0C != 0x0C
    ):
        if head[1] & 0x06 == 0:  # layer bits 00: ADTS AAC
            return Sniffed("audio/aac", "aac", "audio")
        return Sniffed("audio/mpeg", "mp3", "audio")
    return _text(head, name) or Sniffed("application/octet-stream", "bin", "binary")


def is_inline_safe(content_type: str) -> bool:
    if content_type == "image/svg+xml":
        return False
    return content_type.split("/")[0] in ("image", "video", "audio")


def allowed(sniffed: Sniffed, entries: Iterable[str]) -> bool:
    for entry in entries:
        entry = entry.strip().lower()
        if entry == sniffed.category or entry == sniffed.content_type:
            return True
        if (
            entry.endswith("/*")
            and sniffed.content_type.startswith(entry[:-1])
            and sniffed.category != "active"
        ):
            return True
    return False
