"""An image's width and height, read from its header, never by decoding its pixels.

A decompression bomb (a small file whose header claims 100000 x 100000) is
measured as it claims and nothing is inflated. The first bytes the upload kept
(`head`) answer for PNG, GIF, WebP, BMP and most AVIF / HEIC files; a JPEG whose
metadata (EXIF, ICC profiles) pushes its frame header further, a TIFF whose
first directory is at its end, or a large HEIF `meta` box are looked up in the
file with a few small, bounded reads. Anything truncated, garbled or unknown
gives None, never an exception.

Sizes are as a browser displays the image: a JPEG or TIFF whose EXIF
orientation turns it by 90 degrees, or a HEIF image with such an `irot`, has
its width and height swapped.
"""

import os
import struct

# Largest value a database integer column holds; a header claiming more is not believed.
MAX_SIDE = 2**31 - 1
# How far into a file a JPEG's frame header or a HEIF's `meta` box is looked for.
MAX_SCAN = 4 * 1024 * 1024
MAX_SEGMENTS = 512  # JPEG segments or ISO-BMFF boxes walked before giving up
MAX_META = 256 * 1024  # a HEIF `meta` box larger than this is not read (a phone's is a few KB)
MAX_TIFF_ENTRIES = 1000


class _Source:
    """Reads at an offset: from the kept head while it covers the range, else from the file."""

    def __init__(self, head: bytes, path=None):
        self.head = head
        self.path = path
        self._fh = None

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:
            return b""
        if offset + size <= len(self.head) or self.path is None:
            return self.head[offset : offset + size]
        if self._fh is None:
            self._fh = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        self._fh.seek(offset)
        return self._fh.read(size)

    def close(self):
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def measure(head: bytes, path: str | os.PathLike | None = None) -> tuple[int, int] | None:
    """(width, height) of the image whose first bytes are `head`, or None.

    With `path` (the whole file on local disk), what the head does not hold is
    read from there, a few bytes at a time."""
    source = _Source(bytes(head), path)
    try:
        size = _dispatch(source)
    except (OSError, struct.error, ValueError, IndexError):
        return None
    finally:
        source.close()
    if size is None:
        return None
    width, height = size
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return None
    return width, height


def _dispatch(source: _Source):
    start = source.read(0, 32)
    if start.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(start)
    if start[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(start)
    if start[:3] == b"\xff\xd8\xff":
        return _jpeg(source)
    if start[:4] == b"RIFF" and start[8:12] == b"WEBP":
        return _webp(source)
    if start[:2] == b"BM":
        return _bmp(start)
    if start[4:8] == b"ftyp":
        return _heif(source)
    if start[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(source, 0)
    return None


def _png(start: bytes):
    if len(start) < 24 or start[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", start[16:24])


def _gif(start: bytes):
    if len(start) < 10:
        return None
    return struct.unpack("<HH", start[6:10])


def _bmp(start: bytes):
    if len(start) < 26:
        return None
    header = struct.unpack("<I", start[14:18])[0]
    if header == 12:  # BITMAPCOREHEADER: unsigned 16-bit sides
        return struct.unpack("<HH", start[18:22])
    if header in (16, 40, 52, 56, 64, 108, 124):
        width, height = struct.unpack("<ii", start[18:26])
        return width, abs(height)  # a negative height is a top-down bitmap
    return None


def _webp(source: _Source):
    chunk = source.read(12, 18)
    if len(chunk) < 18:
        return None
    kind, data = chunk[:4], chunk[8:]
    if kind == b"VP8 ":
        # A key frame's tag (3 bytes), the start code, then 14-bit sides (2 bits of scaling above them).
        if data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L":
        if data[0] != 0x2F:
            return None
        bits = struct.unpack("<I", data[1:5])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        width = int.from_bytes(data[4:7], "little") + 1
        height = int.from_bytes(data[7:10], "little") + 1
        return width, height
    return None


# Start-of-frame markers: every SOFn but DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length: TEM, RST0-7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def _jpeg(source: _Source):
    offset = 2
    orientation = 1
    for _ in range(MAX_SEGMENTS):
        if offset > MAX_SCAN:
            return None
        marker = source.read(offset, 2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        kind = marker[1]
        if kind in _STANDALONE:
            offset += 2
            continue
        if kind in (0xD9, 0xDA):  # end of image, start of scan: no frame header came first
            return None
        length_bytes = source.read(offset + 2, 2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            return None
        if kind in _SOF:
            frame = source.read(offset + 4, 5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            if height == 0:  # the height comes later, in a DNL segment: not worth chasing
                return None
            return _oriented(width, height, orientation)
        if kind == 0xE1:
            segment = source.read(offset + 4, length - 2)
            if segment.startswith(b"Exif\x00\x00"):
                orientation = _exif_orientation(segment[6:]) or orientation
        offset += 2 + length
    return None


def _oriented(width, height, orientation):
    # EXIF orientations 5 to 8 turn the image by 90 degrees: a browser shows it the other way round.
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


class _Tiff:
    """A TIFF structure (a TIFF file, or EXIF inside a JPEG) read at offsets relative to its start."""

    def __init__(self, read, base: int):
        self._read = read
        self.base = base
        order = read(base, 4)
        if order[:4] == b"II*\x00":
            self.endian = "<"
        elif order[:4] == b"MM\x00*":
            self.endian = ">"
        else:
            raise ValueError("not a TIFF header")

    def unpack(self, fmt, offset):
        size = struct.calcsize(fmt)
        data = self._read(self.base + offset, size)
        if len(data) < size:
            raise ValueError("truncated")
        return struct.unpack(self.endian + fmt, data)

    def first_directory(self) -> dict:
        """Tag -> first value, for the SHORT and LONG tags of IFD0."""
        (offset,) = self.unpack("I", 4)
        (count,) = self.unpack("H", offset)
        if count > MAX_TIFF_ENTRIES:
            raise ValueError("implausible directory")
        entries = self._read(self.base + offset + 2, 12 * count)
        if len(entries) < 12 * count:
            raise ValueError("truncated")
        tags = {}
        for index in range(count):
            entry = entries[12 * index : 12 * index + 12]
            tag, kind, _n = struct.unpack(self.endian + "HHI", entry[:8])
            if kind == 3:  # SHORT, left-justified in the value field
                tags[tag] = struct.unpack(self.endian + "H", entry[8:10])[0]
            elif kind == 4:  # LONG
                tags[tag] = struct.unpack(self.endian + "I", entry[8:12])[0]
        return tags


def _exif_orientation(tiff_bytes: bytes) -> int | None:
    try:
        tags = _Tiff(lambda offset, size: tiff_bytes[offset : offset + size], 0).first_directory()
    except (ValueError, struct.error):
        return None
    return tags.get(0x0112)


def _tiff(source: _Source, base: int):
    tags = _Tiff(source.read, base).first_directory()
    if 256 not in tags or 257 not in tags:
        return None
    return _oriented(tags[256], tags[257], tags.get(0x0112, 1))


def _boxes(read, start: int, end: int):
    """(type, content offset, content end) of the ISO-BMFF boxes between start and end."""
    offset = start
    for _ in range(MAX_SEGMENTS):
        if offset + 8 > end:
            return
        header = read(offset, 16)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header[:8])
        content = offset + 8
        if size == 1:  # a 64-bit size follows
            if len(header) < 16:
                return
            size = struct.unpack(">Q", header[8:16])[0]
            content = offset + 16
        elif size == 0:  # to the end of the enclosing space
            size = end - offset
        if size < content - offset or offset + size > end:
            return
        yield kind, content, offset + size
        offset += size


def _heif(source: _Source):
    """AVIF and HEIC: the primary item's `ispe` property (its turn by `irot` applied)."""
    meta = None
    for kind, content, box_end in _boxes(source.read, 0, MAX_SCAN):
        if kind == b"meta":
            meta = (content, box_end)
            break
    if meta is None or meta[1] - meta[0] > MAX_META:
        return None
    data = source.read(meta[0], meta[1] - meta[0])
    if len(data) < meta[1] - meta[0]:
        return None

    def read(offset, size):
        return data[offset : offset + size]

    primary = None
    properties = []  # ipco's children, in order: ipma refers to them from 1
    associations = {}  # item id -> [property index]
    for kind, content, box_end in _boxes(read, 4, len(data)):  # meta is a FullBox: skip version and flags
        if kind == b"pitm":
            version = data[content]
            primary = struct.unpack(
                ">I" if version else ">H", data[content + 4 : content + (8 if version else 6)]
            )[0]
        elif kind == b"iprp":
            for child, child_content, child_end in _boxes(read, content, box_end):
                if child == b"ipco":
                    properties = [(k, data[c:e]) for k, c, e in _boxes(read, child_content, child_end)]
                elif child == b"ipma":
                    try:
                        associations.update(_ipma(data[child_content:child_end]))
                    except (struct.error, IndexError):
                        pass  # unreadable links: no primary item then, the largest image below

    def ispe(body):
        if len(body) < 12:
            return None
        return struct.unpack(">II", body[4:12])

    chosen = [properties[i - 1] for i in associations.get(primary, ()) if 0 < i <= len(properties)]
    size = next((ispe(body) for kind, body in chosen if kind == b"ispe"), None)
    if size is None:
        # No usable primary item: the largest image described (thumbnails and tiles are smaller).
        sizes = [s for kind, body in properties if kind == b"ispe" and (s := ispe(body))]
        if not sizes:
            return None
        return max(sizes, key=lambda s: s[0] * s[1])
    width, height = size
    turned = any(kind == b"irot" and body and body[0] & 0x3 in (1, 3) for kind, body in chosen)
    return (height, width) if turned else (width, height)


def _ipma(body: bytes) -> dict:
    version, flags = body[0], int.from_bytes(body[1:4], "big")
    (count,) = struct.unpack(">I", body[4:8])
    offset = 8
    found = {}
    for _ in range(min(count, 10_000)):
        if version < 1:
            (item,) = struct.unpack(">H", body[offset : offset + 2])
            offset += 2
        else:
            (item,) = struct.unpack(">I", body[offset : offset + 4])
            offset += 4
        links = body[offset]
        offset += 1
        indexes = []
        for _ in range(links):
            if flags & 1:
                (value,) = struct.unpack(">H", body[offset : offset + 2])
                indexes.append(value & 0x7FFF)
                offset += 2
            else:
                indexes.append(body[offset] & 0x7F)
                offset += 1
        found[item] = indexes
    return found
