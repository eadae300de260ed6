import posixpath
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from channels.fields import EncryptedTextField

TENANT_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TENANT_NAMES = ("consumers", "common", "organizations")


def validate_tenant(value):
    if value in TENANT_NAMES or TENANT_GUID.match(value or ""):
        return
    raise ValidationError(
        "Tenant ID must be consumers (personal accounts), common (personal and work or "
        "school accounts), organizations (work or school accounts), or your directory "
        "(tenant) ID, a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47 from the app's "
        "Overview page in Microsoft Entra.",
        code="invalid_tenant",
    )


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


class Channel(models.Model):
    """A place files are stored. One row per channel, whatever its kind."""

    class Kind(models.TextChoices):
        ONEDRIVE = "onedrive", "OneDrive"
        LOCAL = "local", "Local folder"
        S3 = "s3", "S3-compatible"
        WEBDAV = "webdav", "WebDAV"

    class Cloud(models.TextChoices):
        GLOBAL = "global", "Global (microsoft.com)"
        CHINA = "china", "China (21Vianet)"
        US_GOV = "usgov", "US Government"

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

    # OneDrive, as the setup guide names the fields.
    client_id = models.CharField(
        "client ID", max_length=100, blank=True, help_text="The Application (client) ID from Microsoft Entra."
    )
    client_secret = EncryptedTextField(
        help_text="The client secret's Value (not its Secret ID) from Certificates & secrets."
    )
    tenant_id = models.CharField(
        "tenant ID",
        max_length=64,
        default="consumers",
        validators=[validate_tenant],
        help_text="consumers (personal accounts), common (personal and work or school), "
        "organizations, or the Directory (tenant) ID.",
    )
    refresh_token = EncryptedTextField(help_text="Leave empty and click Get Token, or paste the token here.")
    root_directory = models.CharField(
        max_length=400,
        default="imgbed",
        blank=True,
        help_text="Folder in the OneDrive that receives the files. Optional; defaults to imgbed.",
    )
    cloud = models.CharField(max_length=10, choices=Cloud.choices, default=Cloud.GLOBAL)
    serve_mode = models.CharField(
        "serving",
        max_length=10,
        choices=[("proxy", "Proxy: stream through this site"), ("redirect", "Redirect to a download URL")],
        default="proxy",
        help_text="Proxy keeps OneDrive hidden and supports ranges here; redirect saves this site's bandwidth.",
    )

    # Kept by the site.
    access_token = EncryptedTextField(editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    token_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    account_name = models.CharField(max_length=200, blank=True, editable=False)
    account_email = models.CharField(max_length=320, blank=True, editable=False)

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

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    # Writers of a row save only what they changed. Workers rotate tokens and
    # record health and quota while staff edit the same row: a full save from
    # a form loaded before a rotation would write back a refresh token that
    # Microsoft has already killed.
    # The kind a proxy model (OneDriveChannel, LocalChannel...) stands for.
    KIND = None

    def save(self, *args, **kwargs):
        if self.KIND is not None:
            self.kind = self.KIND
        if (
            kwargs.get("update_fields") is None
            and not kwargs.get("force_insert")
            and not self._state.adding
            and hasattr(self, "_loaded")
        ):
            changed = self.changed_fields()
            if not changed:
                return
            kwargs["update_fields"] = [*changed, "updated_at"]
        super().save(*args, **kwargs)
        written = kwargs.get("update_fields")
        if written is None:
            self._remember([f.attname for f in self._meta.concrete_fields])
        else:
            self._remember([self._meta.get_field(name).attname for name in written])

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        names = fields or [f.attname for f in self._meta.concrete_fields]
        self._remember([self._meta.get_field(name).attname for name in names])

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded = {}
        instance._remember(field_names)
        return instance

    def _remember(self, attnames):
        if not hasattr(self, "_loaded"):
            self._loaded = {}
        for attname in attnames:
            if attname in self.__dict__:
                self._loaded[attname] = self.__dict__[attname]

    def changed_fields(self) -> list[str]:
        """Fields given another value on this instance since it was read."""
        by_attname = {f.attname: f for f in self._meta.concrete_fields}
        changed = []
        for attname, loaded in getattr(self, "_loaded", {}).items():
            current = self.__dict__.get(attname)
            field = by_attname[attname]
            if isinstance(field, EncryptedTextField):
                # Model validation reads every field and sets it back, decrypted.
                if not field.same_value(loaded, current):
                    changed.append(attname)
            elif current != loaded:
                changed.append(attname)
        return changed

    def clean(self):
        super().clean()
        try:
            self.root_directory = normalize_root_directory(self.root_directory)
        except ValidationError as exc:
            raise ValidationError({"root_directory": exc.messages}) from None

    def _is_set(self, name) -> bool:
        return self._meta.get_field(name).is_set(self)

    @property
    def has_client_secret(self) -> bool:
        return self._is_set("client_secret")

    @property
    def has_refresh_token(self) -> bool:
        return self._is_set("refresh_token")

    @property
    def has_access_token(self) -> bool:
        return self._is_set("access_token")

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


class OneDriveChannel(Channel):
    """The OneDrive rows of Channel, with their own admin."""

    KIND = Channel.Kind.ONEDRIVE
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        verbose_name = "OneDrive channel"


class LocalChannel(Channel):
    """The local-folder rows of Channel, with their own admin."""

    KIND = Channel.Kind.LOCAL
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        verbose_name = "local folder channel"


class S3Channel(Channel):
    KIND = Channel.Kind.S3
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        verbose_name = "S3-compatible channel"


class WebDAVChannel(Channel):
    KIND = Channel.Kind.WEBDAV
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        verbose_name = "WebDAV channel"


# Each kind's own settings live in its package.
from channels.local.models import LocalSettings  # noqa: E402, F401
from channels.s3.models import S3Settings  # noqa: E402, F401
from channels.webdav.models import WebDAVSettings  # noqa: E402, F401
