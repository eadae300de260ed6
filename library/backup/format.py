"""What a library export holds, field by field, and how values are written and read back.

One JSON object: `format` and `version` first (so a reader knows at once what it
holds), the site settings, the channels, the tags, then the files, one record a
line, and a summary last. Secrets are never in it as plaintext: channel
definitions carry their kind's settings without the encrypted fields, and only
an export made with secrets adds them, as one Fernet token per channel under
the site's own key (IMGBED_ENCRYPTION_KEYS).
"""

import datetime
import ipaddress

from django.db import models
from django.utils.dateparse import parse_datetime

from channels import kinds
from channels.fields import EncryptedTextField
from channels.models import Channel
from imgbed_site.models import SiteSettings
from uploads.models import StoredFile

FORMAT = "imgbed-library"
VERSION = 1

# Rows whose bytes are on their channel (stored), or whose id must stay taken (deleted: an old
# link must never show another file). Pending, uploading and failed rows have their bytes only in
# the staging area of this site, which an export cannot carry: they are left out and counted.
EXPORTED_STATUSES = (StoredFile.Status.STORED, StoredFile.Status.DELETED)

FILE_FIELDS = (
    "public_id",
    "original_name",
    "folder",
    "remote_path",
    "remote_id",
    "size",
    "sha256",
    "quickxorhash",
    "content_type",
    "category",
    "list_type",
    "width",
    "height",
    "status",
    "moved_note",
    "uploader_ip",
    "created_at",
    "stored_at",
    "deleted_at",
)
CHANNEL_FIELDS = (
    "name",
    "kind",
    "enabled",
    "note",
    "priority",
    "weight",
    "capacity",
    "fill_threshold",
    "root_directory",
    "serve_mode",
)
SETTINGS_FIELDS = tuple(
    f.attname for f in SiteSettings._meta.concrete_fields if f.attname not in ("id", "updated_at")
)
# Encrypted with the secrets: a reader checks it first, so a wrong key is said before anything changes.
KEY_CHECK = "imgbed library export key check"


class BadRecord(ValueError):
    """A value of an export that this site cannot take; the message says which and why."""


def encode(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def decode(field: models.Field, value, where: str):
    """An exported value as the model field holds it; BadRecord when it cannot be one."""
    if value is None:
        if field.null:
            return None
        raise BadRecord(f"{where}: {field.name} may not be null.")
    if isinstance(field, models.DateTimeField):
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise BadRecord(f"{where}: {field.name} {value!r} is not a date and time.")
        return parsed
    if isinstance(field, models.BooleanField):
        if not isinstance(value, bool):
            raise BadRecord(f"{where}: {field.name} must be true or false.")
        return value
    if isinstance(field, models.IntegerField):  # BigIntegerField and the positive ones too
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRecord(f"{where}: {field.name} must be a whole number.")
        if value < 0 and ("Positive" in type(field).__name__ or field.name == "size"):
            raise BadRecord(f"{where}: {field.name} may not be negative.")
        return value
    if isinstance(field, models.GenericIPAddressField):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise BadRecord(f"{where}: {field.name} {value!r} is not an IP address.") from None
    if not isinstance(value, str):
        raise BadRecord(f"{where}: {field.name} must be text.")
    if field.max_length and len(value) > field.max_length:
        raise BadRecord(f"{where}: {field.name} is longer than {field.max_length} characters.")
    if field.choices and value not in {choice for choice, _ in field.flatchoices}:
        raise BadRecord(f"{where}: {field.name} {value!r} is not one of the values this site knows.")
    return value


def settings_model(kind: str):
    """The model of a kind's own settings (LocalSettings, S3Settings...): one row per channel."""
    package = kinds.get(kind).package
    for relation in Channel._meta.related_objects:
        if relation.one_to_one and relation.related_model.__module__ == f"{package}.models":
            return relation.related_model
    raise LookupError(f"The {kind} kind has no settings model.")


def settings_fields(model) -> tuple[list, list]:
    """(plain fields, secret fields) of a kind's settings model, without the channel link."""
    plain, secret = [], []
    for field in model._meta.concrete_fields:
        if field.name == "channel":
            continue
        (secret if isinstance(field, EncryptedTextField) else plain).append(field)
    return plain, secret
