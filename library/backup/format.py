"""What a library export holds, field by field, and how values are written and read back.

One JSON object: `format` and `version` first (so a reader knows at once what it
holds), the site settings, the channels, the tags, then the files, one record a
line, and a summary last. Secrets are never in it as plaintext: channel
definitions carry their kind's settings without the encrypted fields, and only
an export made with secrets adds them, as one Fernet token per channel under
the site's own key (IMGBED_ENCRYPTION_KEYS).
"""

import datetime
import functools
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
    return decoder(field)(value, where)


@functools.cache
def decoder(field: models.Field):
    """The check of one field's values, chosen once per field (an import decodes millions)."""
    name = field.name

    def checked(convert):
        def run(value, where):
            if value is None:
                if field.null:
                    return None
                raise BadRecord(f"{where}: {name} may not be null.")
            return convert(value, where)

        return run

    if isinstance(field, models.DateTimeField):

        def as_datetime(value, where):
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is None:
                raise BadRecord(f"{where}: {name} {value!r} is not a date and time.")
            return parsed

        return checked(as_datetime)
    if isinstance(field, models.BooleanField):

        def as_bool(value, where):
            if not isinstance(value, bool):
                raise BadRecord(f"{where}: {name} must be true or false.")
            return value

        return checked(as_bool)
    if isinstance(field, models.IntegerField):  # BigIntegerField and the positive ones too
        never_negative = "Positive" in type(field).__name__ or name == "size"

        def as_int(value, where):
            if type(value) is not int:
                raise BadRecord(f"{where}: {name} must be a whole number.")
            if value < 0 and never_negative:
                raise BadRecord(f"{where}: {name} may not be negative.")
            return value

        return checked(as_int)
    if isinstance(field, models.GenericIPAddressField):

        def as_ip(value, where):
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                raise BadRecord(f"{where}: {name} {value!r} is not an IP address.") from None

        return checked(as_ip)
    choices = frozenset(choice for choice, _ in field.flatchoices) if field.choices else None
    limit = field.max_length

    def as_text(value, where):
        if not isinstance(value, str):
            raise BadRecord(f"{where}: {name} must be text.")
        if limit and len(value) > limit:
            raise BadRecord(f"{where}: {name} is longer than {limit} characters.")
        if choices is not None and value not in choices:
            raise BadRecord(f"{where}: {name} {value!r} is not one of the values this site knows.")
        return value

    return checked(as_text)


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
