import base64
import random
import struct
import time

import pytest

from channels.quickxorhash import QuickXorHash, quickxorhash_b64

VECTORS = [
    (b"", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    (b"\x4a", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
    (b"\xb5\xb4", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
    (b"hello world", "aCgDG9jwBhDc4Q1yawMZAAAAAAA="),
]


def reference_spec(data: bytes) -> str:
    """The definition, byte by byte: A ^= rotl160(b, 11 * i mod 160)."""
    mask = (1 << 160) - 1
    acc = 0
    for i, b in enumerate(data):
        v = b << ((11 * i) % 160)
        acc ^= (v | (v >> 160)) & mask
    out = bytearray(acc.to_bytes(20, "little"))
    for k, b in enumerate(struct.pack("<q", len(data))):
        out[12 + k] ^= b
    return base64.b64encode(bytes(out)).decode()


class ReferenceCells:
    """Microsoft's published layout: three 64-bit cells (the last holds 32 bits),
    fed byte by byte. An independent shape of the algorithm, to catch a rotation
    that only the definition above would share."""

    def __init__(self):
        self.cells = [0, 0, 0]
        self.shift = 0
        self.length = 0

    def update(self, data: bytes) -> None:
        for b in data:
            index, offset = divmod(self.shift, 64)
            bits = 32 if index == 2 else 64
            if offset <= bits - 8:
                self.cells[index] ^= b << offset
            else:
                self.cells[index] ^= (b << offset) & ((1 << 64) - 1)
                self.cells[0 if index == 2 else index + 1] ^= b >> (bits - offset)
            self.shift = (self.shift + 11) % 160
        self.length += len(data)

    def b64digest(self) -> str:
        out = bytearray(struct.pack("<QQQ", *self.cells)[:20])
        for k, b in enumerate(struct.pack("<q", self.length)):
            out[12 + k] ^= b
        return base64.b64encode(bytes(out)).decode()


@pytest.mark.parametrize(("data", "expected"), VECTORS)
def test_vectors(data, expected):
    assert quickxorhash_b64(data) == expected
    h = QuickXorHash()
    h.update(data)
    assert h.b64digest() == expected
    assert len(h.digest()) == 20
    assert reference_spec(data) == expected


@pytest.mark.parametrize("size", [0, 1, 7, 8, 19, 20, 159, 160, 161, 319, 320, 321, 999, 4096, 12345])
def test_matches_references_at_interesting_sizes(size):
    data = random.Random(size).randbytes(size)
    cells = ReferenceCells()
    cells.update(data)
    assert quickxorhash_b64(data) == reference_spec(data) == cells.b64digest()


def test_random_chunk_boundaries_and_unaligned_buffers():
    rng = random.Random(1234)
    for _ in range(25):
        data = rng.randbytes(rng.randrange(0, 6000))
        expected = reference_spec(data)
        h = QuickXorHash()
        view = memoryview(bytearray(b"\0" * 3 + data))[3:]  # unaligned start on purpose
        pos = 0
        while pos < len(data):
            step = rng.choice([1, 2, 7, 64, 159, 160, 161, 500, 1777])
            h.update(view[pos : pos + step])
            pos += step
        assert h.b64digest() == expected
        assert h.length == len(data)


def test_digest_does_not_finish_the_hash():
    h = QuickXorHash()
    h.update(b"hello ")
    h.digest()
    h.update(b"world")
    assert h.b64digest() == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="
    clone = h.copy()
    clone.update(b"!")
    assert h.b64digest() == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="
    assert clone.b64digest() == reference_spec(b"hello world!")


def test_large_input_matches_chunked_and_is_fast():
    data = random.Random(7).randbytes(8 * 1024 * 1024 + 123)
    cells = ReferenceCells()
    cells.update(data[:100_000])
    assert quickxorhash_b64(data[:100_000]) == cells.b64digest()

    whole = quickxorhash_b64(data)
    h = QuickXorHash()
    view = memoryview(data)
    for pos in range(0, len(data), 327_681):
        h.update(view[pos : pos + 327_681])
    assert h.b64digest() == whole

    big = bytes(64 * 1024 * 1024)
    started = time.perf_counter()
    QuickXorHash(big).digest()
    elapsed = time.perf_counter() - started
    # Hundreds of MB/s at least; a per-byte Python loop would take minutes.
    assert 64 / elapsed > 200, f"{64 / elapsed:.0f} MB/s"
