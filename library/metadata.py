"""A file as ImgBed's management API shows it: `{"name": id, "metadata": {...}}` with ImgBed's
field names. Never anything of the channel but its kind and name (ImgBed also returns the
channel's credentials)."""

from uploads.models import StoredFile

# ImgBed's `Channel` values where it has the kind (S3, WebDAV); the others read the same way.
# Each is our kind with other capitals, so `channel=` filters match either spelling.
CHANNEL_NAMES = {"s3": "S3", "webdav": "WebDAV", "onedrive": "OneDrive", "local": "Local"}
# `channel=` values: ImgBed's names of a kind this site has, then ImgBed's kinds this site
# does not have (they match no file).
CHANNEL_ALIASES = {"cloudflarer2": "s3", "cfr2": "s3", "r2": "s3", "s3": "s3", "webdav": "webdav"}
IMGBED_ONLY_CHANNELS = frozenset(
    {"telegramnew", "telegram", "telegraph", "discord", "huggingface", "external"}
)


# What of() reads: a listing loads only these.
FIELDS = (
    "public_id",
    "original_name",
    "folder",
    "size",
    "content_type",
    "uploader_ip",
    "list_type",
    "created_at",
    "width",
    "height",
    "channel__kind",
    "channel__name",
)


def channel_label(kind: str) -> str:
    return CHANNEL_NAMES.get(kind, kind)


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.2f}"


def milliseconds(moment) -> int:
    return int(moment.timestamp() * 1000)


def directory(folder: str) -> str:
    """ImgBed's Directory: "" at the top, else the folder with a trailing slash."""
    return f"{folder}/" if folder else ""


def of(stored: StoredFile, tags: list[str]) -> dict:
    """The metadata of a file whose channel is loaded (select_related("channel"))."""
    return {
        "FileName": stored.original_name or stored.name,
        "FileType": stored.content_type,
        "FileSize": megabytes(stored.size),
        "FileSizeBytes": stored.size,
        "UploadIP": stored.uploader_ip or "",
        "UploadAddress": "",
        "ListType": stored.list_type,
        "TimeStamp": milliseconds(stored.created_at),
        "Label": "None",
        "Directory": directory(stored.folder),
        "Tags": tags,
        "Width": stored.width,
        "Height": stored.height,
        "Channel": channel_label(stored.channel.kind),
        "ChannelName": stored.channel.name,
    }


def entry(stored: StoredFile, tags: list[str]) -> dict:
    return {"name": stored.public_id, "metadata": of(stored, tags)}
