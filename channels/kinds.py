"""The channel kinds: one entry each. A kind's package holds everything else about it:
models.py (its settings and its proxy of Channel), backend.py, forms.py, admin.py."""

from dataclasses import dataclass

from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Kind:
    name: str  # the value stored in Channel.kind
    label: str
    package: str
    backend_class: str  # in <package>.backend (implements channels.backends.Backend)
    form_class: str  # in <package>.forms (a ModelForm over its proxy model)
    blurb: str  # what it is for, on the Add channel page

    @property
    def backend(self) -> str:
        return f"{self.package}.backend.{self.backend_class}"

    @property
    def form(self) -> str:
        return f"{self.package}.forms.{self.form_class}"


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "onedrive",
            "OneDrive",
            "channels.onedrive",
            "OneDriveBackend",
            "OneDriveChannelForm",
            "A personal, work or school OneDrive, through a Microsoft Entra app registration.",
        ),
        Kind(
            "local",
            "Local folder",
            "channels.local",
            "LocalBackend",
            "LocalChannelForm",
            "A folder on this machine (or a disk the web process and the workers share).",
        ),
        Kind(
            "s3",
            "S3-compatible",
            "channels.s3",
            "S3Backend",
            "S3ChannelForm",
            "An S3-compatible bucket: Cloudflare R2, MinIO, Backblaze B2, Wasabi or AWS S3.",
        ),
        Kind(
            "webdav",
            "WebDAV",
            "channels.webdav",
            "WebDAVBackend",
            "WebDAVChannelForm",
            "A WebDAV server: Nextcloud, ownCloud, alist/OpenList, Synology or any RFC 4918 server.",
        ),
    )
}


def get(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"Unknown channel kind {name!r}: use one of {', '.join(KINDS)}.") from None


def choices() -> list:
    """For Channel.Kind: (member name, (value, label)) per kind."""
    return [(kind.name.upper(), (kind.name, kind.label)) for kind in KINDS.values()]


def form_class(name: str):
    return import_string(get(name).form)


def backend_class(name: str):
    return import_string(get(name).backend)
