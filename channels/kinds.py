"""The channel kinds: one entry each. A kind's package holds everything else about it."""

from dataclasses import dataclass

from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Kind:
    name: str
    backend: str  # dotted path of its backend class (channels.backends.Backend)
    form: str  # dotted path of its settings form (a ModelForm over its proxy model)


KINDS = {
    kind.name: kind
    for kind in (
        Kind("onedrive", "channels.onedrive.backend.OneDriveBackend", "channels.forms.OneDriveChannelForm"),
        Kind("local", "channels.local.backend.LocalBackend", "channels.local.forms.LocalChannelForm"),
        Kind("s3", "channels.s3.backend.S3Backend", "channels.s3.forms.S3ChannelForm"),
        Kind("webdav", "channels.webdav.backend.WebDAVBackend", "channels.webdav.forms.WebDAVChannelForm"),
    )
}


def get(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"Unknown channel kind {name!r}: use one of {', '.join(KINDS)}.") from None


def form_class(name: str):
    return import_string(get(name).form)


def backend_class(name: str):
    return import_string(get(name).backend)
