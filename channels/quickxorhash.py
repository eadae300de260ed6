"""Microsoft's quickXorHash, the one content hash every OneDrive drive type reports.

Byte i of the stream is XORed into a 160-bit accumulator rotated left by
(11 * i) mod 160 bits. Because 11 * 160 is a multiple of 160, the shift only
depends on i mod 160: XOR-folding the stream into 160 "column" bytes first and
rotating each column into place once, at digest time, gives the same result.
The fold is done by numpy on 64-bit words, so hashing runs at memory speed and
can sit in an upload loop without slowing it.
"""

import base64

# numpy (some 10 MiB) is loaded with the first hash: the web process imports the OneDrive
# backend to serve files, and never hashes.
np = None

WIDTH_BITS = 160
SHIFT = 11
_ROW = WIDTH_BITS  # bytes per period: byte i and byte i + 160 share a shift
_MASK = (1 << WIDTH_BITS) - 1
# Rotation of each column into the accumulator, fixed by the column index.
_COLUMN_SHIFTS = tuple((SHIFT * j) % WIDTH_BITS for j in range(_ROW))


class QuickXorHash:
    """Incremental quickXorHash: feed chunks of any size with update()."""

    name = "quickxorhash"
    digest_size = 20
    block_size = _ROW

    def __init__(self, data: bytes | memoryview | None = None) -> None:
        global np
        if np is None:
            import numpy as np
        self._columns = np.zeros(_ROW, dtype=np.uint8)
        self._length = 0
        if data is not None:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        buf = np.frombuffer(data, dtype=np.uint8)
        n = buf.size
        if n == 0:
            return
        column = self._length % _ROW
        self._length += n

        # Fold from an 8-aligned address: numpy's word-wise XOR on unaligned
        # memory falls back to a buffered path several times slower.
        lead = min(-buf.ctypes.data % 8, n)
        self._scatter(column, buf[:lead])
        column = (column + lead) % _ROW
        rest = buf[lead:]
        rows = rest.size // _ROW
        if rows:
            words = rest[: rows * _ROW].view(np.uint64).reshape(rows, _ROW // 8)
            folded = np.bitwise_xor.reduce(words, axis=0).view(np.uint8)
            # folded[k] belongs to column (column + k) mod 160.
            self._columns ^= np.roll(folded, column)
            rest = rest[rows * _ROW :]
        self._scatter(column, rest)

    def _scatter(self, column: int, chunk: "np.ndarray") -> None:
        """XOR fewer than 160 bytes into the columns, starting at `column`."""
        first = min(_ROW - column, chunk.size)
        self._columns[column : column + first] ^= chunk[:first]
        if chunk.size > first:
            self._columns[: chunk.size - first] ^= chunk[first:]

    def _accumulator(self) -> int:
        acc = 0
        for column, shift in zip(self._columns.tobytes(), _COLUMN_SHIFTS, strict=True):
            if column:
                v = column << shift
                acc ^= (v | (v >> WIDTH_BITS)) & _MASK
        return acc

    def digest(self) -> bytes:
        out = bytearray(self._accumulator().to_bytes(20, "little"))
        for k, b in enumerate(self._length.to_bytes(8, "little")):
            out[12 + k] ^= b
        return bytes(out)

    def hexdigest(self) -> str:
        return self.digest().hex()

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")

    def copy(self) -> "QuickXorHash":
        clone = QuickXorHash()
        clone._columns[:] = self._columns
        clone._length = self._length
        return clone

    @property
    def length(self) -> int:
        return self._length

    def state(self) -> str:
        """The hash so far as text (its columns and length), to go on from with from_state():
        an upload resumed later hashes only the bytes after those it covers."""
        raw = self._columns.tobytes() + self._length.to_bytes(8, "little")
        return base64.b64encode(raw).decode("ascii")

    @classmethod
    def from_state(cls, state: str) -> "QuickXorHash":
        """The hash state() described; ValueError when `state` is not one."""
        raw = base64.b64decode(state, validate=True)
        if len(raw) != _ROW + 8:
            raise ValueError("not a quickXorHash state")
        restored = cls()
        restored._columns[:] = np.frombuffer(raw[:_ROW], dtype=np.uint8)
        restored._length = int.from_bytes(raw[_ROW:], "little")
        return restored


def quickxorhash_b64(data: bytes | memoryview) -> str:
    return QuickXorHash(data).b64digest()
