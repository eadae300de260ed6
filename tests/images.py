"""Tiny images of each format built byte by byte, and a few encoders' own output.

The PNG, GIF, JPEG, BMP and TIFF builders write real files of any size (a
decoder accepts them: checked against Pillow when they were written). The
WebP and HEIF ones write the container and header a reader looks at, with no
real picture data behind: the encoders' own files below cover that.
"""

import base64
import struct

from tests.files import png  # noqa: F401 (PNG: tests/files.png, sized with width= and height=)


def gif(width: int, height: int) -> bytes:
    """A GIF89a of one colour, its LZW stream reset every two pixels so that codes stay 3 bits wide."""
    codes = []
    for index in range(width * height):
        if index % 2 == 0:
            codes.append(4)  # clear
        codes.append(0)
    codes.append(5)  # end of information
    bits, nbits, packed = 0, 0, bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += 3
        while nbits >= 8:
            packed.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        packed.append(bits & 0xFF)
    blocks = b"".join(
        bytes([len(packed[i : i + 255])]) + bytes(packed[i : i + 255]) for i in range(0, len(packed), 255)
    )
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # a global colour table of 2 entries
        + b"\x00\x00\x00\xff\xff\xff"
        + b","
        + struct.pack("<HHHHB", 0, 0, width, height, 0)
        + b"\x02"  # LZW minimum code size
        + blocks
        + b"\x00;"
    )


def _segment(marker: int, data: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data


def exif(orientation: int, big_endian: bool = False) -> bytes:
    """An EXIF APP1 payload whose first directory holds only the orientation."""
    order = ">" if big_endian else "<"
    tiff = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(order + "I", 8)
    tiff += struct.pack(order + "H", 1) + struct.pack(order + "HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(order + "I", 0)
    return b"Exif\x00\x00" + tiff


def jpeg(
    width: int, height: int, orientation: int | None = None, padding: int = 0, progressive=False
) -> bytes:
    """A grey baseline (or progressive-marked) JPEG: one component, every block DC 0 and end-of-block.

    `padding` bytes of APP2 segments (an ICC profile's place) come before the frame header."""
    out = b"\xff\xd8" + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if orientation is not None:
        out += _segment(0xE1, exif(orientation))
    while padding > 0:
        chunk = min(padding, 65000)
        out += _segment(0xE2, b"ICC_PROFILE\x00" + b"\x00" * chunk)
        padding -= chunk
    out += _segment(0xDB, b"\x00" + bytes([1] * 64))  # quantisation table 0
    out += _segment(
        0xC2 if progressive else 0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    )
    # One-code Huffman tables: DC category 0 and AC end-of-block, each the 1-bit code "0".
    one_code = bytes([1] + [0] * 15) + b"\x00"
    out += _segment(0xC4, b"\x00" + one_code + b"\x10" + one_code)
    blocks = -(-width // 8) * -(-height // 8)
    if progressive:
        # A single DC scan (spectral selection 0 to 0): one zero bit per block, the AC coefficients left 0.
        return out + _segment(0xDA, b"\x01\x01\x00\x00\x00\x00") + bytes(-(-blocks // 8)) + b"\xff\xd9"
    scan = bytes(-(-2 * blocks // 8))  # two zero bits per block
    return out + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + scan + b"\xff\xd9"


def bmp(width: int, height: int, top_down: bool = False, core: bool = False) -> bytes:
    """A 24-bit BMP: BITMAPINFOHEADER (a negative height for top-down rows) or the old 12-byte core header."""
    row = (width * 3 + 3) // 4 * 4
    pixels = b"\x40" * row * height
    if core:
        header = struct.pack("<IHHHH", 12, width, height, 1, 24)
    else:
        header = struct.pack(
            "<IiiHHIIiiII",
            40,
            width,
            -height if top_down else height,
            1,
            24,
            0,
            len(pixels),
            2835,
            2835,
            0,
            0,
        )
    offset = 14 + len(header)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + pixels


def tiff(
    width: int, height: int, big_endian: bool = False, orientation: int | None = None, directory_last=True
) -> bytes:
    """An uncompressed 8-bit grey TIFF; its directory after the pixels, as many writers put it."""
    order = ">" if big_endian else "<"
    pixels = b"\x80" * (width * height)
    tags = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8 if directory_last else 0),  # strip offset, fixed below when the directory comes first
        (277, 3, 1),
        (278, 4, height),
        (279, 4, len(pixels)),
    ]
    if orientation is not None:
        tags.append((274, 3, orientation))
    tags.sort()

    def directory(strip_offset):
        out = struct.pack(order + "H", len(tags))
        for tag, kind, value in tags:
            if tag == 273:
                value = strip_offset
            if kind == 3:
                out += struct.pack(order + "HHIHH", tag, kind, 1, value, 0)
            else:
                out += struct.pack(order + "HHII", tag, kind, 1, value)
        return out + struct.pack(order + "I", 0)

    start = b"MM\x00*" if big_endian else b"II*\x00"
    if directory_last:
        return start + struct.pack(order + "I", 8 + len(pixels)) + pixels + directory(8)
    first = directory(0)
    return start + struct.pack(order + "I", 8) + directory(8 + len(first)) + pixels


def _riff_webp(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def webp_vp8_header(width: int, height: int) -> bytes:
    """A lossy WebP's header with these sides (the frame data is cut short: a header reader's test)."""
    frame = b"\x50\x01\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 8
    return _riff_webp(_chunk(b"VP8 ", frame))


def webp_vp8l_header(width: int, height: int) -> bytes:
    bits = (width - 1) | (height - 1) << 14
    return _riff_webp(_chunk(b"VP8L", b"\x2f" + struct.pack("<I", bits) + b"\x00" * 4))


def webp_vp8x_header(width: int, height: int) -> bytes:
    data = b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return _riff_webp(_chunk(b"VP8X", data))


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + body)


def heif(
    items: dict,
    primary: int | None = 1,
    brand: bytes = b"avif",
    rotation: dict | None = None,
    large_ids=False,
) -> bytes:
    """An AVIF / HEIC container: ftyp and a meta box whose items (id -> (width, height)) each have an
    `ispe` property, the primary one named by `pitm`, `irot` (id -> quarter turns) where asked."""
    rotation = rotation or {}
    properties, links = [], {}
    for item, (width, height) in items.items():
        properties.append(_full_box(b"ispe", 0, 0, struct.pack(">II", width, height)))
        links[item] = [len(properties)]
        if item in rotation:
            properties.append(_box(b"irot", bytes([rotation[item]])))
            links[item].append(len(properties) | 0x80)  # essential
    ipma = struct.pack(">I", len(links))
    for item, indexes in links.items():
        ipma += struct.pack(">I" if large_ids else ">H", item) + bytes([len(indexes)]) + bytes(indexes)
    iprp = _box(
        b"iprp", _box(b"ipco", b"".join(properties)) + _full_box(b"ipma", 1 if large_ids else 0, 0, ipma)
    )
    meta_body = _full_box(b"hdlr", 0, 0, b"\x00" * 4 + b"pict" + b"\x00" * 13)
    if primary is not None:
        meta_body += _full_box(
            b"pitm", 1 if large_ids else 0, 0, struct.pack(">I" if large_ids else ">H", primary)
        )
    meta_body += iprp
    ftyp = _box(b"ftyp", brand + b"\x00\x00\x00\x00" + b"mif1" + brand)
    return ftyp + _full_box(b"meta", 0, 0, meta_body) + _box(b"mdat", b"\x00" * 16)


def _decoded(text: str) -> bytes:
    return base64.b64decode(text)


# Written by Pillow 13 (libjpeg-turbo, libwebp, libavif) from a 5 x 3 red picture.
REAL_JPEG_5x3 = _decoded(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABsSFBcUERsXFhceHBsgKEIrKCUlKFE6PTBCYFVlZF9VXVtqeJmBanGQc1tdhbWGkJ6jq62r"
    "Z4C8ybqmx5moq6T/2wBDARweHigjKE4rK06kbl1upKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSk"
    "pKT/wAARCAADAAUDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQID"
    "AAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlq"
    "c3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3"
    "+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEI"
    "FEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImK"
    "kpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDN"
    "ooormPbP/9k="
)
REAL_WEBP_LOSSY_5x3 = _decoded(
    "UklGRjQAAABXRUJQVlA4ICgAAACQAQCdASoFAAMABABoJaACdLoAA5gA/u0HLrvFpRr/5Kf4u+83doAA"
)
REAL_WEBP_LOSSLESS_5x3 = _decoded("UklGRh4AAABXRUJQVlA4TBEAAAAvBIAAAAdQhSJXof+BiOh/AAA=")
REAL_WEBP_ALPHA_5x3 = _decoded(
    "UklGRkgAAABXRUJQVlA4WAoAAAAQAAAABAAAAgAAQUxQSAoAAAABB1CyiAhERP8DVlA4IBgAAAAwAQCdASoFAAMABABoJaQAA3AA/vNiAAA="
)
REAL_AVIF_5x3 = _decoded(
    "AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADrbWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAcGljdAAAAAAAAAAAAAAAAAAA"
    "AAAOcGl0bQAAAAAAAQAAAB5pbG9jAAAAAEQAAAEAAQAAAAEAAAETAAAAJgAAAChpaW5mAAAAAAABAAAAGmluZmUCAAAAAAEAAGF2MDFD"
    "b2xvcgAAAABqaXBycAAAAEtpcGNvAAAAFGlzcGUAAAAAAAAABQAAAAMAAAAQcGl4aQAAAAADCAgIAAAADGF2MUOBAAwAAAAAE2NvbHJu"
    "Y2x4AAEADQAGgAAAABdpcG1hAAAAAAAAAAEAAQQBAoMEAAAALm1kYXQSAAoIGAhk0QENBoQyGBxHh4Xd0000wsbAAJA1jjx+n4ApFZpV"
    "MA=="
)
