"""The built-in placeholder image a refused file is answered with: a grey "no entry" sign, drawn once."""

import functools
import struct
import zlib

WIDTH, HEIGHT = 240, 160
_BACKGROUND = (243, 244, 246)
_SIGN = (156, 163, 175)


@functools.cache
def png() -> bytes:
    cx, cy = WIDTH / 2, HEIGHT / 2
    outer, inner = 52.0, 40.0
    rows = []
    for y in range(HEIGHT):
        row = bytearray(b"\x00")  # filter: none
        for x in range(WIDTH):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            distance = (dx * dx + dy * dy) ** 0.5
            ring = inner <= distance <= outer
            # The bar, from top left to bottom right, inside the ring.
            bar = distance < inner and abs(dx - dy) <= 8.5
            row += bytes(_SIGN if ring or bar else _BACKGROUND)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )
