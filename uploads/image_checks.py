"""Images refused for what their header says, before anything is kept.

Nothing on this site decodes an image, but the people who view it do: a
decompression bomb (a few KB claiming 100000 x 100000 pixels) would make
their browser try to allocate tens of gigabytes. And a PNG, GIF, WebP or BMP
carries its size in its first bytes: a file that ends inside them was cut
short, and nothing of the picture is there. (A
header that is there but garbled is taken as sent, without a size; an image
cut off further in is taken too: it shows as far as it goes, and telling
would mean decoding it.)
"""

# Formats with their size in a fixed header at the start: its length (signature, size fields and what
# a decoder needs with them), and the name people know the format by.
_HEADER_UP_FRONT = {
    "image/png": (33, "PNG"),  # the signature and the whole IHDR chunk
    "image/gif": (13, "GIF"),  # the signature and the logical screen descriptor
    "image/webp": (30, "WebP"),
    "image/bmp": (26, "BMP"),
}


def refusal(sniffed, size: int, pixels, max_pixels: int) -> str | None:
    """Why the image of `size` bytes may not be uploaded, in words; None when it may (or it is not an image)."""
    if sniffed.category != "image":
        return None
    header, kind = _HEADER_UP_FRONT.get(sniffed.content_type, (0, ""))
    if size < header:
        return (
            f"The file starts like a {kind} image but ends inside its header ({size} bytes): it was cut short, "
            "and nothing of the picture is there. Send the whole file again."
        )
    if pixels is None:
        return None  # garbled, a header further in, or a format not measured: taken as sent
    width, height = pixels
    if max_pixels and width * height > max_pixels:
        return (
            f"The image says it is {width} x {height} pixels ({_megapixels(width * height)} megapixels), "
            f"more than this site's limit of {_megapixels(max_pixels)} megapixels: viewers' browsers could "
            "not open it. Scale it down, or send it as an archive."
        )
    return None


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:,.0f}" if pixels >= 10_000_000 else f"{pixels / 1_000_000:,.1f}"
