"""Width and height from an image's header: every format, as displayed, and never a guess from garbage."""

import struct
import zlib

import pytest

from tests import images
from tests.files import png
from uploads import dimensions
from uploads.dimensions import measure
from uploads.staging import SNIFF_BYTES


def head_of(data: bytes) -> bytes:
    """What the upload handler keeps of a file."""
    return data[:SNIFF_BYTES]


@pytest.mark.parametrize(
    "data, size",
    [
        (png(width=7, height=5), (7, 5)),
        (png(3000, width=300, height=2), (300, 2)),
        (images.gif(7, 5), (7, 5)),
        (images.gif(1, 1), (1, 1)),
        (images.jpeg(7, 5), (7, 5)),
        (images.jpeg(33, 17), (33, 17)),
        (images.jpeg(9, 4, progressive=True), (9, 4)),
        (images.bmp(7, 5), (7, 5)),
        (images.bmp(7, 5, top_down=True), (7, 5)),
        (images.bmp(7, 5, core=True), (7, 5)),
        (images.tiff(7, 5), (7, 5)),
        (images.tiff(7, 5, big_endian=True), (7, 5)),
        (images.tiff(7, 5, directory_last=False), (7, 5)),
        (images.webp_vp8_header(640, 480), (640, 480)),
        (images.webp_vp8_header(16383, 1), (16383, 1)),
        (images.webp_vp8l_header(1, 16384), (1, 16384)),
        (images.webp_vp8x_header(2**24, 3), (2**24, 3)),
        (images.heif({1: (4000, 3000)}), (4000, 3000)),
        (images.heif({1: (64, 48)}, brand=b"heic"), (64, 48)),
        (images.heif({70000: (64, 48)}, primary=70000, large_ids=True), (64, 48)),
    ],
    ids=lambda value: None if isinstance(value, bytes) else f"{value[0]}x{value[1]}",
)
def test_each_format(data, size):
    assert measure(head_of(data)) == size


@pytest.mark.parametrize(
    "data",
    [
        images.REAL_JPEG_5x3,
        images.REAL_WEBP_LOSSY_5x3,
        images.REAL_WEBP_LOSSLESS_5x3,
        images.REAL_WEBP_ALPHA_5x3,
        images.REAL_AVIF_5x3,
    ],
    ids=["jpeg", "webp-lossy", "webp-lossless", "webp-extended-alpha", "avif"],
)
def test_files_written_by_real_encoders(data):
    assert measure(head_of(data)) == (5, 3)


def test_sides_as_displayed_when_turned():
    # EXIF orientation 6 (turn 90 degrees clockwise): a browser shows 5 wide, 7 high.
    assert measure(images.jpeg(7, 5, orientation=6)) == (5, 7)
    assert measure(images.jpeg(7, 5, orientation=3)) == (7, 5)  # upside down: same sides
    assert measure(images.tiff(7, 5, orientation=8)) == (5, 7)
    assert measure(images.heif({1: (4000, 3000)}, rotation={1: 1})) == (3000, 4000)
    assert measure(images.heif({1: (4000, 3000)}, rotation={1: 2})) == (4000, 3000)


def test_heif_primary_item_not_its_thumbnail():
    items = {1: (320, 240), 2: (4032, 3024)}  # item 1 a thumbnail
    assert measure(images.heif(items, primary=2)) == (4032, 3024)
    assert measure(images.heif(items, primary=1)) == (320, 240)
    # No primary item named: the largest image described.
    assert measure(images.heif(items, primary=None)) == (4032, 3024)


def test_jpeg_frame_header_beyond_the_head_is_read_from_the_file(tmp_path):
    data = images.jpeg(1200, 800, padding=200_000)  # ICC profile segments before the frame header
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    assert measure(head_of(data)) is None  # the head alone does not reach it
    assert measure(head_of(data), path) == (1200, 800)


def test_tiff_directory_at_the_end_is_read_from_the_file(tmp_path):
    data = images.tiff(200, 100)  # 20000 bytes of pixels, then the directory
    path = tmp_path / "scan.tif"
    path.write_bytes(data)
    assert measure(head_of(data)) is None
    assert measure(head_of(data), path) == (200, 100)


def test_the_file_is_not_opened_when_the_head_is_enough(tmp_path):
    assert measure(head_of(png(width=3, height=2)), tmp_path / "not-there.png") == (3, 2)


def test_a_frame_header_too_far_in_is_not_chased(tmp_path, monkeypatch):
    monkeypatch.setattr(dimensions, "MAX_SCAN", 100_000)
    data = images.jpeg(10, 10, padding=300_000)
    path = tmp_path / "far.jpg"
    path.write_bytes(data)
    assert measure(head_of(data), path) is None


def test_a_decompression_bomb_is_measured_not_inflated():
    # A PNG claiming 100000 x 100000 (40 GB of pixels once decoded) in a few hundred bytes.
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    idat = compressor.compress(b"\x00" * 10_000_000) + compressor.flush()
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )
    assert measure(head_of(bomb)) == (100_000, 100_000)
    assert measure(images.gif(1, 1)[:6] + struct.pack("<HH", 65535, 65535) + images.gif(1, 1)[10:]) == (
        65535,
        65535,
    )


def test_sides_a_database_cannot_hold_are_not_believed():
    huge = bytearray(png())
    huge[16:20] = struct.pack(">I", 2**32 - 1)
    assert measure(bytes(huge)) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG\r\n\x1a\n",
        png()[:20],
        png()[:16] + b"\x00\x00\x00\x00" + png()[20:],  # width 0
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDX" + b"\x00" * 20,  # not IHDR
        b"GIF89a\x01",
        b"GIF89a\x00\x00\x05\x00" + b"\x00" * 10,  # width 0
        b"\xff\xd8\xff",
        images.jpeg(7, 5)[:30],
        b"\xff\xd8\xff\xe0\x00\x01" + b"\x00" * 40,  # a length shorter than itself
        b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 40,  # a scan before any frame header
        b"\xff\xd8" + b"\xff\xe2\xff\xff" * 3,  # lengths that run off the end
        b"\xff\xd8\x00\x00" + b"\x00" * 40,  # not a marker
        images.jpeg(7, 0),  # height 0 (DNL): not chased
        images.webp_vp8_header(640, 480)[:25],
        b"RIFF\x00\x00\x00\x00WEBPVP8 \x0a\x00\x00\x00\x50\x01\x00\xaa\xbb\xcc"
        + b"\x00" * 8,  # no start code
        b"RIFF\x00\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x00" + b"\x00" * 8,  # bad signature
        b"RIFF\x00\x00\x00\x00WEBPABCD" + b"\x00" * 20,
        b"BM" + b"\x00" * 12 + struct.pack("<I", 999) + b"\x00" * 20,  # unknown DIB header
        images.bmp(7, 5)[:20],
        b"II*\x00" + struct.pack("<I", 10**9),  # a directory far past the end
        b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 60000) + b"\x00" * 30,  # implausible count
        images.heif({1: (40, 30)})[:40],  # ftyp, then the meta box cut short
        b"\x00\x00\x00\x20ftypavif" + b"\x00" * 24,  # no meta box
        images.heif({1: (0, 30)}),
        b"\x00\x00\x00\x01ftypavif" + b"\x00" * 30,  # a 64-bit size that is not there
        b"just some text, not an image at all",
        bytes(range(256)) * 4,
    ],
)
def test_truncated_or_garbled_headers_give_none(data):
    assert measure(data) is None


def test_a_garbled_ipma_gives_none_not_an_exception():
    data = bytearray(images.heif({1: (40, 30)}))
    at = data.index(b"ipma") + 8
    data[at : at + 4] = struct.pack(">I", 5000)  # far more entries than the box holds
    assert measure(bytes(data)) == (40, 30)  # no primary item found: the only image described
    cut = bytes(data[: at + 6])
    assert measure(cut) is None


def test_random_bytes_never_raise():
    import random

    generator = random.Random(7)
    prefixes = [
        b"\x89PNG\r\n\x1a\n",
        b"GIF89a",
        b"\xff\xd8\xff",
        b"RIFF\x00\x00\x00\x00WEBP",
        b"BM",
        b"II*\x00",
    ]
    prefixes += [b"MM\x00*", b"\x00\x00\x00\x18ftypavif"]
    for _ in range(3000):
        data = generator.choice(prefixes) + generator.randbytes(generator.randrange(0, 120))
        result = measure(data)
        assert result is None or (
            0 < result[0] <= dimensions.MAX_SIDE and 0 < result[1] <= dimensions.MAX_SIDE
        )
