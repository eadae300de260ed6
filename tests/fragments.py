"""What the emulator saw of upload sessions."""


def fragments(emulator):
    """(start, end) of every fragment the emulator accepted."""
    return [
        r.byte_range[:2]
        for r in emulator.requests
        if r.kind == "upload_url" and r.method == "PUT" and r.status in (200, 201, 202)
    ]


def assert_disjoint(ranges, total):
    """The ranges cover 0..total once: no byte sent twice, none left out."""
    covered = sorted(ranges)
    position = 0
    for start, end in covered:
        assert start == position, f"byte range {start}-{end} overlaps or leaves a gap (expected {position})"
        position = end + 1
    assert position == total
