"""Small real files for upload tests, and streams of them as a backend's store() reads them."""

import io
import os
import struct
import zlib


def png(payload_size: int = 0, seed: int = 0, width: int = 1, height: int = 1) -> bytes:
    """A valid PNG (1x1 unless sized), followed by `payload_size` random bytes in an ancillary chunk."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    idat = zlib.compress((b"\x00" + b"\xff\x00\x00\xff" * width) * height)
    extra = chunk(b"tEXt", os.urandom(payload_size)) if payload_size else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


class Stream:
    """open_stream(offset) over bytes in memory."""

    def __init__(self, data):
        self.data = data

    def __call__(self, offset):
        return io.BytesIO(self.data[offset:])


class FileStream:
    """Opens the file on each call, as staging does: nothing is read until the backend reads."""

    def __init__(self, path):
        self.path = path

    def __call__(self, offset):
        fh = open(self.path, "rb")  # noqa: SIM115 (the caller's with closes it)
        fh.seek(offset)
        return fh
