import hashlib
import re
import secrets
from urllib.parse import quote

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from channels.fields import EncryptedTextField
from channels.models import Channel

_URL_BREAKING = re.compile(r"[#?%\s]")


def hash_secret(value: str) -> str:
    # Tokens and codes are random or staff-chosen secrets compared for equality:
    # a plain SHA-256 keeps them unreadable at rest and survives SECRET_KEY rotation.
    return hashlib.sha256(value.encode()).hexdigest()


class UploadCode(models.Model):
    """An ImgBed auth code (`authCode`), configured by staff, stored hashed."""

    label = models.CharField(max_length=100, unique=True)
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "upload auth code"

    def __str__(self):
        return self.label

    def set_code(self, code: str):
        self.code_hash = hash_secret(code)

    @classmethod
    def matching(cls, code: str):
        if not code:
            return None
        return cls.objects.filter(code_hash=hash_secret(code), enabled=True).first()


class ApiToken(models.Model):
    """A bearer token for the API, shown once when created, stored hashed."""

    PREFIX = "imgbed_"

    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=20, editable=False, help_text="The token's first characters.")
    can_upload = models.BooleanField("upload", default=True)
    can_delete = models.BooleanField("delete", default=False)
    can_list = models.BooleanField("list", default=False)
    can_manage = models.BooleanField(
        "manage",
        default=False,
        help_text="Move, rename, tag, block and edit files through /api/manage/ (listing needs list, "
        "deleting delete).",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    def issue(self) -> str:
        """Give the row a new token; returns it (the only time it is readable)."""
        token = self.PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_secret(token)
        self.hint = token[: len(self.PREFIX) + 4]
        return token

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @classmethod
    def matching(cls, token: str):
        if not token:
            return None
        found = cls.objects.filter(token_hash=hash_secret(token)).first()
        if found is None or found.expired:
            return None
        return found


# The files a listing shows: not deleted (uploads.lifecycle.delete sets deleted_at with the status),
# and not still arriving (their links are not given out yet). No parameters in it: SQLite uses a
# partial index only for a query whose WHERE repeats the index's own literally.
LIVE = Q(receiving=False, deleted_at__isnull=True)


class StoredFile(models.Model):
    """One upload, from the moment its bytes are staged until it is deleted."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        UPLOADING = "uploading", "Uploading"
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted"

    class ListType(models.TextChoices):
        NONE = "None", "Normal"
        WHITE = "White", "Allowed"
        BLOCK = "Block", "Blocked"

    public_id = models.CharField(max_length=600, unique=True, help_text="The part of the link after /file/.")
    original_name = models.CharField(max_length=500)
    folder = models.CharField(max_length=300, blank=True, db_index=True)
    remote_path = models.CharField(
        max_length=1000, help_text="Root directory / folder / name on the channel."
    )
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=100)
    category = models.CharField(max_length=20, blank=True, db_index=True)
    # ImgBed's ListType: White files are always served, Block ones never (403 with a placeholder);
    # in whitelist mode only White ones are.
    list_type = models.CharField(
        max_length=10, choices=ListType.choices, default=ListType.NONE, db_index=True
    )
    # Images only, read from the header at upload (never by decoding the pixels).
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="files")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    failure_reason = models.TextField(blank=True)
    # Kept once stored: where the file went instead of the channel first chosen, and why.
    moved_note = models.TextField("moved", blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    # A pre-authenticated URL: whoever has it can write to the drive, so it is a secret.
    upload_session_url = EncryptedTextField(editable=False)
    # The file size the session was opened for: a session begun on a guessed
    # size (early start) cannot take a file that turned out otherwise.
    upload_session_size = models.BigIntegerField(null=True, blank=True, editable=False)
    # The quickXorHash state of the bytes the session holds (QuickXorHash.state()): a
    # worker resuming it hashes on from there and reads only the rest from staging.
    upload_session_hash = models.CharField(max_length=300, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    # A released upload is not taken again before this, by any path (the request's
    # finish, reconcile, a redelivered task): the channel asked for the wait (Retry-After).
    not_before = models.DateTimeField(null=True, blank=True, editable=False)
    remote_id = models.CharField(max_length=1000, blank=True)  # an S3 key or a path: folders and name
    quickxorhash = models.CharField(max_length=40, blank=True)
    staged_name = models.CharField(
        max_length=300, blank=True, help_text="Name in the staging storage, until stored."
    )
    # Set while the request is still bringing the bytes in (a large file whose
    # upload to the channel started early): size is then the expected size, and
    # a worker may send every fragment but the last.
    receiving = models.BooleanField(default=False, editable=False)

    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    api_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL)
    upload_code = models.ForeignKey(UploadCode, null=True, blank=True, on_delete=models.SET_NULL)
    uploader_ip = models.GenericIPAddressField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "file"
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            # The management list (library): live files newest first, in a folder or in a tree,
            # counted and paged in the database from these indexes alone. The condition's columns
            # are in them too, or SQLite reads every row to check it; nothing more, or PostgreSQL
            # finds reading the table cheaper than counting through a wide index. Ascending, though
            # read newest first: new files go in at the end, so the pages stay full.
            models.Index(
                fields=["folder", "created_at", "id", "receiving", "deleted_at"],
                name="uploads_live_folder_idx",
                condition=LIVE,
            ),
            models.Index(
                fields=["created_at", "id", "receiving", "deleted_at"],
                name="uploads_live_recent_idx",
                condition=LIVE,
            ),
        ]

    def __str__(self):
        return self.public_id

    @property
    def url_path(self) -> str:
        # Ids the site makes never hold these, but one found by a rescan or typed by staff might:
        # a `#` or `?` would cut the link short, a `%` or a space would be read as something else.
        return "/file/" + _URL_BREAKING.sub(lambda m: quote(m.group()), self.public_id)

    @property
    def name(self) -> str:
        return self.public_id.rsplit("/", 1)[-1]


class FormerId(models.Model):
    """An id a file had before it was moved or renamed: its old link answers 301 to the current one.

    The remote item follows in a task (uploads.relocation); until it has, remote_path and
    remote_id say where it still is.
    """

    public_id = models.CharField(max_length=600, unique=True)
    file = models.ForeignKey(StoredFile, on_delete=models.CASCADE, related_name="former_ids")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "former id"

    def __str__(self):
        return f"{self.public_id} -> {self.file_id}"
