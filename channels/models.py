import posixpath
from importlib import import_module

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from channels import kinds
from channels.dirty import SavesOnlyChanges


def normalize_root_directory(value: str) -> str:
    """'/imgbed//pics/' -> 'imgbed/pics'; rejects anything that could escape the root."""
    value = (value or "").strip()
    if not value:
        return "imgbed"
    if "\\" in value:
        raise ValidationError("Use forward slashes (/) in the root directory, not backslashes.")
    if value.startswith("/"):
        raise ValidationError(
            "Give the root directory relative to the top of the OneDrive, without a leading slash "
            "(for example imgbed or pictures/imgbed)."
        )
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ValidationError("The root directory cannot contain '..'.")
    bad = set('"*:<>?|#%') & set(value)
    if bad or any(ord(c) < 32 for c in value):
        raise ValidationError(
            "OneDrive does not allow these characters in folder names: "
            + " ".join(sorted(bad or {"control"}))
        )
    if any(p != p.strip() or p.endswith(".") for p in parts):
        raise ValidationError("Folder names cannot start or end with a space or end with a dot.")
    return posixpath.join(*parts) if parts else "imgbed"


class Channel(SavesOnlyChanges, models.Model):
    """A place files are stored. One row per channel, whatever its kind; what only one
    kind needs lives in its package (OneDriveSettings, S3Settings...), one row per channel."""

    Kind = models.TextChoices("Kind", kinds.choices())  # channels.kinds: one entry per kind

    class Health(models.TextChoices):
        NOT_CONNECTED = "not_connected", "Not connected"
        CONNECTED = "connected", "Connected"
        DEGRADED = "degraded", "Degraded"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorisation"
        ERROR = "error", "Error"

    name = models.CharField("channel name", max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ONEDRIVE, editable=False)
    enabled = models.BooleanField(default=True)
    note = models.TextField(blank=True)

    # Choosing among channels, whatever their kind.
    priority = models.PositiveSmallIntegerField(
        default=10, help_text="Uploads go to the lowest number first; higher numbers are the fallbacks."
    )
    weight = models.PositiveIntegerField(
        default=1, help_text="Among channels of the same priority, each gets uploads in proportion to this."
    )
    capacity = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Bytes this site may store here. Empty: what the channel reports (or the disk's size).",
    )
    fill_threshold = models.PositiveSmallIntegerField(
        default=95, help_text="Percent full above which the channel takes no new uploads."
    )
    # Kept by the site: the bytes of its files stored here, for kinds that report no quota.
    stored_bytes = models.BigIntegerField(default=0, editable=False)

    root_directory = models.CharField(
        max_length=400,
        default="imgbed",
        blank=True,
        help_text="Folder in the OneDrive that receives the files. Optional; defaults to imgbed.",
    )
    serve_mode = models.CharField(
        "serving",
        max_length=10,
        choices=[("proxy", "Proxy: stream through this site"), ("redirect", "Redirect to a download URL")],
        default="proxy",
        help_text="Proxy keeps OneDrive hidden and supports ranges here; redirect saves this site's bandwidth.",
    )

    # Kept by the site.
    quota_total = models.BigIntegerField(null=True, blank=True, editable=False)
    quota_used = models.BigIntegerField(null=True, blank=True, editable=False)
    quota_remaining = models.BigIntegerField(null=True, blank=True, editable=False)
    quota_deleted = models.BigIntegerField(null=True, blank=True, editable=False)
    quota_state = models.CharField(max_length=20, blank=True, editable=False)
    quota_read_at = models.DateTimeField(null=True, blank=True, editable=False)

    health = models.CharField(
        max_length=20, choices=Health.choices, default=Health.NOT_CONNECTED, editable=False
    )
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The channel asked to slow down (429, or a Retry-After): no upload to it starts before this.
    # Graph throttles per app and user, so one file's 429 holds the channel's other files too.
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    # The kind a proxy model (OneDriveChannel, LocalChannel...) stands for.
    KIND = None

    # Writers of a row save only what they changed (channels.dirty): workers record
    # health and quota while staff edit the same row.
    def save(self, *args, **kwargs):
        if self.KIND is not None:
            self.kind = self.KIND
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        try:
            self.root_directory = normalize_root_directory(self.root_directory)
        except ValidationError as exc:
            raise ValidationError({"root_directory": exc.messages}) from None

    def record_error(self, health, message):
        self.health = health
        self.last_error = message
        self.last_error_at = timezone.now()


# Channels that may receive uploads: a throttled Graph is degraded, not dead.
USABLE_HEALTH = (Channel.Health.CONNECTED, Channel.Health.DEGRADED, Channel.Health.ERROR)


class QuotaSample(models.Model):
    """One reading of a channel's quota, for the history chart."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="quota_samples")
    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    total = models.BigIntegerField()
    used = models.BigIntegerField()
    remaining = models.BigIntegerField(null=True)
    state = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self):
        return f"{self.channel_id} {self.used}/{self.total} at {self.taken_at:%Y-%m-%d %H:%M}"


class KindManager(models.Manager):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def get_queryset(self):
        return super().get_queryset().filter(kind=self.kind)


# Each kind's package has its settings model and its proxy of Channel.
for _kind in kinds.KINDS.values():
    import_module(f"{_kind.package}.models")
