"""Rows the tests need as they stand mid-way through an upload."""

from uploads.models import StoredFile


def receiving_row(channel, name, **fields):
    """A row of a file whose request is still bringing it in."""
    return StoredFile.objects.create(
        public_id=name,
        original_name=name,
        remote_path=f"imgbed/{name}",
        size=30_000_000,
        sha256="",
        content_type="image/png",
        channel=channel,
        receiving=True,
        **fields,
    )
