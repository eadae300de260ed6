"""Content type judged from a file's first bytes, never from its name.

A name is chosen by whoever uploads the file, so it may only break ties
between types the bytes cannot tell apart (text/plain, text/css or JSON; an
ISO-BMFF file with a generic brand named `.m4a`). It never turns unknown bytes
into an image, and never turns markup a browser would render into something
harmless-looking. When in doubt, text is called active rather than plain.
"""

import codecs
import json
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

HEAD_SIZE = 8192  # how many leading bytes callers should pass to sniff()

CATEGORIES = ("image", "video", "audio", "document", "archive", "text", "active", "binary")
DEFAULT_ALLOWED = ("image", "video", "audio")


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str  # canonical, without the dot
    category: str


UNKNOWN = Sniffed("application/octet-stream", "bin", "binary")

# Fixed signatures at offset 0. Longer, more specific ones come first.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", Sniffed("image/png", "png", "image")),
    (b"\xff\xd8\xff", Sniffed("image/jpeg", "jpg", "image")),
    (b"GIF87a", Sniffed("image/gif", "gif", "image")),
    (b"GIF89a", Sniffed("image/gif", "gif", "image")),
    (b"II*\x00", Sniffed("image/tiff", "tif", "image")),
    (b"MM\x00*", Sniffed("image/tiff", "tif", "image")),
    (b"II+\x00", Sniffed("image/tiff", "tif", "image")),  # BigTIFF
    (b"MM\x00+", Sniffed("image/tiff", "tif", "image")),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", Sniffed("image/jxl", "jxl", "image")),  # JPEG XL container
    (b"\xff\x0a", Sniffed("image/jxl", "jxl", "image")),  # JPEG XL bare codestream
    (b"%PDF-", Sniffed("application/pdf", "pdf", "document")),
    (b"PK\x03\x04", Sniffed("application/zip", "zip", "archive")),
    (b"PK\x05\x06", Sniffed("application/zip", "zip", "archive")),  # empty archive
    (b"PK\x07\x08", Sniffed("application/zip", "zip", "archive")),  # spanned archive
    (b"\x1f\x8b\x08", Sniffed("application/gzip", "gz", "archive")),
    (b"7z\xbc\xaf\x27\x1c", Sniffed("application/x-7z-compressed", "7z", "archive")),
    (b"Rar!\x1a\x07", Sniffed("application/vnd.rar", "rar", "archive")),
    (b"BZh", Sniffed("application/x-bzip2", "bz2", "archive")),
    (b"\xfd7zXZ\x00", Sniffed("application/x-xz", "xz", "archive")),
    (b"\x28\xb5\x2f\xfd", Sniffed("application/zstd", "zst", "archive")),
    (b"fLaC", Sniffed("audio/flac", "flac", "audio")),
    (b"ADIF", Sniffed("audio/aac", "aac", "audio")),
    (b"FLV\x01", Sniffed("video/x-flv", "flv", "video")),
    (b"\x00\x00\x01\xba", Sniffed("video/mpeg", "mpg", "video")),  # MPEG program stream
)

_RIFF = {
    b"WEBP": Sniffed("image/webp", "webp", "image"),
    b"WAVE": Sniffed("audio/wav", "wav", "audio"),
    b"AVI ": Sniffed("video/x-msvideo", "avi", "video"),
}

# ISO-BMFF (MP4 family) brands. Specific brands decide; generic ones only say "some MP4".
_SPECIFIC_BRANDS = {
    b"avif": Sniffed("image/avif", "avif", "image"),
    b"avis": Sniffed("image/avif", "avif", "image"),
    b"heic": Sniffed("image/heic", "heic", "image"),
    b"heix": Sniffed("image/heic", "heic", "image"),
    b"heim": Sniffed("image/heic", "heic", "image"),
    b"heis": Sniffed("image/heic", "heic", "image"),
    b"hevc": Sniffed("image/heic-sequence", "heics", "image"),
    b"hevx": Sniffed("image/heic-sequence", "heics", "image"),
    b"qt  ": Sniffed("video/quicktime", "mov", "video"),
    b"M4A ": Sniffed("audio/mp4", "m4a", "audio"),
    b"M4B ": Sniffed("audio/mp4", "m4a", "audio"),
    b"M4P ": Sniffed("audio/mp4", "m4a", "audio"),
    b"F4A ": Sniffed("audio/mp4", "m4a", "audio"),
    b"M4V ": Sniffed("video/x-m4v", "m4v", "video"),
    b"M4VH": Sniffed("video/x-m4v", "m4v", "video"),
    b"M4VP": Sniffed("video/x-m4v", "m4v", "video"),
}
_HEIF = Sniffed("image/heif", "heif", "image")  # mif1 / msf1 without a more specific brand
_MP4 = Sniffed("video/mp4", "mp4", "video")
_M4A = Sniffed("audio/mp4", "m4a", "audio")
_3GP = Sniffed("video/3gpp", "3gp", "video")
_3G2 = Sniffed("video/3gpp2", "3g2", "video")
_GENERIC_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
    b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"mmp4", b"MSNV", b"NDAS", b"XAVC",
    b"f4v ", b"F4V ", b"F4P ", b"kddi",
}  # fmt: skip

# Text that a browser would treat as a page, wherever it appears in the head.
_EXECUTABLE_TAG = re.compile(
    r"<\s*(?:script|iframe|frame|frameset|object|embed|applet|svg|html|body)\b|<!doctype\s+html", re.I
)
# Root elements that make leading markup HTML rather than some XML dialect (WHATWG's list, and more).
_HTML_ROOTS = frozenset(
    "html head body script iframe frameset h1 h2 h3 div span font table a style title b i u br p img "
    "meta link base form input button object embed template section article main nav header footer "
    "ul ol li pre video audio canvas math".split()
)
_TAG_NAME = re.compile(r"<\s*([A-Za-z_][\w.:-]*)")
_DOCTYPE_NAME = re.compile(r"<!doctype\s+([\w.:-]+)", re.I)
# A truncated head cannot be parsed as JSON; these openings are JSON and hardly anything else.
_JSON_START = re.compile(r'\{\s*(?:"|\})|\[\s*(?:[\[{"\]\-\d]|true\b|false\b|null\b)')

_TEXT_BY_EXTENSION = {
    "txt": Sniffed("text/plain", "txt", "text"),
    "text": Sniffed("text/plain", "txt", "text"),
    "log": Sniffed("text/plain", "txt", "text"),
    "css": Sniffed("text/css", "css", "text"),
    "csv": Sniffed("text/csv", "csv", "text"),
    "tsv": Sniffed("text/tab-separated-values", "tsv", "text"),
    "md": Sniffed("text/markdown", "md", "text"),
    "markdown": Sniffed("text/markdown", "md", "text"),
    "json": Sniffed("application/json", "json", "text"),
}
# Plain text that a browser would execute if it were served under its name's type.
_ACTIVE_BY_EXTENSION = {
    "js": Sniffed("text/javascript", "js", "active"),
    "mjs": Sniffed("text/javascript", "js", "active"),
    "cjs": Sniffed("text/javascript", "js", "active"),
    "html": Sniffed("text/html", "html", "active"),
    "htm": Sniffed("text/html", "html", "active"),
    "xhtml": Sniffed("text/html", "html", "active"),
    "shtml": Sniffed("text/html", "html", "active"),
}
_PLAIN = Sniffed("text/plain", "txt", "text")
_JSON = Sniffed("application/json", "json", "text")
_HTML = Sniffed("text/html", "html", "active")
_SVG = Sniffed("image/svg+xml", "svg", "active")
_XML = Sniffed("application/xml", "xml", "active")


def sniff(head: bytes, name: str = "") -> Sniffed:
    """What the first bytes of a file say it is. `head` is its first HEAD_SIZE bytes, or all of a short file."""
    head = bytes(head[:HEAD_SIZE])
    if not head:
        return UNKNOWN
    extension = _extension(name)
    found = _binary(head, extension)
    if found is not None:
        return found
    return _text(head, extension) or UNKNOWN


def is_inline_safe(content_type: str) -> bool:
    """May a browser be shown this type inline from the site's origin? Images (not SVG), video, audio."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    if kind not in ("image", "video", "audio") or not subtype:
        return False
    return "svg" not in subtype and "xml" not in subtype


def allowed(sniffed: Sniffed, categories_or_types: Iterable[str]) -> bool:
    """Is the file accepted by an allow-list of categories ("image"), types ("application/pdf") or
    wildcards ("image/*", "*")? A wildcard never admits active content: SVG or HTML must be named."""
    for entry in categories_or_types:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry in (sniffed.category, sniffed.content_type):
            return True
        if sniffed.category == "active":
            continue
        if entry in ("*", "*/*"):
            return True
        if entry.endswith("/*") and sniffed.content_type.startswith(entry[:-1]):
            return True
    return False


def _extension(name: str) -> str:
    base = re.split(r"[/\\]", name or "")[-1]
    stem, dot, ext = base.rpartition(".")
    return ext.lower() if dot and stem.strip(".") else ""


# Binary formats


def _binary(head: bytes, extension: str) -> Sniffed | None:
    for signature, found in _SIGNATURES:
        if head.startswith(signature):
            return found
    if head[:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        return _RIFF.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _iso_bmff(head, extension)
    for check in (_bmp, _ico, _ebml, _ogg, _id3, _mpeg_audio):
        found = check(head)
        if found is not None:
            return found
    return None


def _iso_bmff(head: bytes, extension: str) -> Sniffed | None:
    size = struct.unpack(">I", head[:4])[0]
    if size < 16 or size % 4:
        return None
    major = head[8:12]
    # Compatible brands follow the 4-byte minor version.
    brands = [major] + [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    for brand in brands:
        if brand in _SPECIFIC_BRANDS:
            return _SPECIFIC_BRANDS[brand]
    if major in (b"mif1", b"msf1"):
        return _HEIF
    if major.startswith(b"3g2"):
        return _3G2
    if major[:3] in (b"3gp", b"3ge", b"3gg", b"3gs"):
        return _3GP
    if any(brand in _GENERIC_MP4_BRANDS for brand in brands):
        # A generic MP4 brand says nothing about audio vs video, so the name may decide.
        return _M4A if extension == "m4a" else _MP4
    return None  # some other ISO-BMFF format (JPEG 2000, camera raw, ...)


def _bmp(head: bytes) -> Sniffed | None:
    # "BM" alone would match text such as "BMW"; the DIB header size must be a known one too.
    if head[:2] == b"BM" and len(head) >= 18:
        if struct.unpack("<I", head[14:18])[0] in (12, 16, 40, 52, 56, 64, 108, 124):
            return Sniffed("image/bmp", "bmp", "image")
    return None


def _ico(head: bytes) -> Sniffed | None:
    if head[:4] == b"\x00\x00\x01\x00" and len(head) >= 22:
        count = struct.unpack("<H", head[4:6])[0]
        if count and head[9] == 0 and head[10] in (0, 1) and head[11] == 0:
            return Sniffed("image/x-icon", "ico", "image")
    return None


def _ebml(head: bytes) -> Sniffed | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    header = head[:64]
    if b"webm" in header:
        return Sniffed("video/webm", "webm", "video")
    if b"matroska" in header:
        return Sniffed("video/x-matroska", "mkv", "video")
    return None


def _ogg(head: bytes) -> Sniffed | None:
    if head[:5] != b"OggS\x00":
        return None
    first_page = head[:128]
    if b"\x80theora" in first_page:
        return Sniffed("video/ogg", "ogv", "video")
    if b"OpusHead" in first_page:
        return Sniffed("audio/ogg", "opus", "audio")
    return Sniffed("audio/ogg", "ogg", "audio")


def _id3(head: bytes) -> Sniffed | None:
    # ID3v2: version 2-4, then four "syncsafe" size bytes with the high bit clear.
    if head[:3] == b"ID3" and len(head) >= 10 and head[3] in (2, 3, 4) and all(b < 0x80 for b in head[6:10]):
        return Sniffed("audio/mpeg", "mp3", "audio")
    return None


def _mpeg_audio(head: bytes) -> Sniffed | None:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    b1, b2 = head[1], head[2]
    if b1 & 0xF6 == 0xF0:  # 12 sync bits and layer 00: an AAC ADTS frame
        frame_length = ((head[3] & 0x03) << 11) | (head[4] << 3) | (head[5] >> 5) if len(head) >= 6 else 7
        if (b2 >> 2) & 0x0F < 13 and frame_length >= 7:
            return Sniffed("audio/aac", "aac", "audio")
        return None
    version, layer = (b1 >> 3) & 0x03, (b1 >> 1) & 0x03
    bitrate, sample_rate = b2 >> 4, (b2 >> 2) & 0x03
    # Layers III and II only: layer I is all but unused, and its header is a UTF-16LE BOM ("\xff\xfe").
    if version != 0b01 and layer in (0b01, 0b10) and bitrate not in (0, 15) and sample_rate != 3:
        return Sniffed("audio/mpeg", "mp3", "audio")
    return None


# Text formats


def _decode(head: bytes) -> str | None:
    """The head as UTF-8 text, or None. A character cut off by the end of the head is not an error."""
    if b"\x00" in head:
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    # Control characters other than layout ones (and ESC, for coloured logs) mean binary data.
    if any((ord(c) < 32 and c not in "\t\n\v\f\r\x1b") or c == "\x7f" for c in text):
        return None
    return text.removeprefix("\ufeff")


def _text(head: bytes, extension: str) -> Sniffed | None:
    text = _decode(head)
    if text is None:
        return None
    lead = text.lstrip()
    if lead.startswith("<"):
        found = _markup(lead)
        if found is not None:
            return found
    if _EXECUTABLE_TAG.search(text):
        return _HTML
    if extension in _ACTIVE_BY_EXTENSION:
        return _ACTIVE_BY_EXTENSION[extension]
    if _is_json(lead, complete=len(head) < HEAD_SIZE):
        # Valid JSON is valid text too: a name saying .txt or .csv wins the tie.
        return _TEXT_BY_EXTENSION.get(extension, _JSON)
    if extension == "json":
        return _PLAIN  # named .json but not JSON
    return _TEXT_BY_EXTENSION.get(extension, _PLAIN)


def _markup(lead: str) -> Sniffed | None:
    """SVG, HTML or XML, judged by the prolog (declaration, comments, doctype) and the root element."""
    rest, doctype, had_prolog, xml_declared = lead, "", False, False
    while True:
        rest = rest.lstrip()
        lowered = rest[:16].lower()
        if lowered.startswith("<?"):
            xml_declared = True  # `<?xml ...?>` or another processing instruction: XML, not HTML
            end = _after(rest, "?>")
        elif lowered.startswith("<!--"):
            end = _after(rest, "-->")
        elif lowered.startswith("<!doctype"):
            match = _DOCTYPE_NAME.match(rest)
            doctype = match.group(1).lower() if match else ""
            end = _doctype_end(rest)
        else:
            break
        had_prolog = True
        if end < 0:  # the prolog runs past the head: judge by what was seen
            rest = ""
            break
        rest = rest[end:]
    root = _TAG_NAME.match(rest)
    root_name = root.group(1).lower().rpartition(":")[2] if root else ""
    if root_name == "svg" or doctype == "svg":
        return _SVG
    if doctype == "html" or root_name in _HTML_ROOTS:
        return _HTML
    if xml_declared or root_name:
        return _XML
    if had_prolog:
        return _HTML  # comments or a doctype and nothing else: browsers would parse it as a page
    return None  # "<3" and the like: just text


def _after(text: str, terminator: str) -> int:
    """Index just past the first `terminator`, or -1 if the text does not contain it."""
    index = text.find(terminator)
    return index + len(terminator) if index >= 0 else -1


def _doctype_end(text: str) -> int:
    """Index just past the '>' closing a doctype, skipping an internal subset in [...]; -1 if not found."""
    depth = 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif char == ">" and depth == 0:
            return index + 1
    return -1


def _is_json(lead: str, complete: bool) -> bool:
    if not lead.startswith(("{", "[")):
        return False
    if complete:
        try:
            json.loads(lead)
        except ValueError:
            return False
        return True
    return _JSON_START.match(lead) is not None
