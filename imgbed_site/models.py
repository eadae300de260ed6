import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models


class ScheduledRun(models.Model):
    """How one run of a scheduled task ended, whether beat or cron (a management command) ran it."""

    class Outcome(models.TextChoices):
        OK = "ok", "Done"
        NOTHING = "nothing", "Nothing to do"
        PARTIAL = "partial", "Partly failed"
        FAILED = "failed", "Failed"

    task = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    summary = models.TextField(help_text="What the run did, in words.")
    via = models.CharField(max_length=20, help_text="worker (beat) or command (cron, by hand).")

    class Meta:
        indexes = [models.Index(fields=["task", "-finished_at"])]
        ordering = ["-finished_at"]

    def __str__(self):
        return f"{self.task} at {self.finished_at:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"

    @property
    def ok(self) -> bool:
        return self.outcome in (self.Outcome.OK, self.Outcome.NOTHING)


def split_entries(text: str) -> list[str]:
    """The entries of a list field: one per line, commas also separating; blanks dropped."""
    return [entry.strip() for entry in re.split(r"[,\n]", text or "") if entry.strip()]


_HOST_LABELS = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


def normalize_host(entry: str) -> str:
    """A referer allow-list entry as a bare lower-case host: "https://Blog.Example.com/x" -> "blog.example.com".

    "*.example.com" and ".example.com" mean what "example.com" means (the host and its subdomains)."""
    value = entry.strip().lower()
    if "://" in value:
        try:
            value = urlsplit(value).hostname or ""
        except ValueError:
            value = ""
    else:
        value = value.split("/", 1)[0]
        if value.startswith("["):
            value = value[1:].split("]", 1)[0]
        elif value.count(":") == 1:
            value = value.split(":", 1)[0]
    value = value.strip()
    while value.startswith(("*.", ".")):
        value = value[2:] if value.startswith("*.") else value[1:]
    value = value.rstrip(".")
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{entry!r} is not a host name.") from None
    if not _HOST_LABELS.match(value):
        raise ValueError(f"{entry!r} is not a host name (like example.com).")
    return value


def normalize_folder(entry: str) -> str:
    """A folder entry as "a/b" (no leading or trailing slash); "*" stays "*"."""
    value = entry.strip().replace("\\", "/")
    if value == "*":
        return value
    segments = [s for s in value.split("/") if s.strip() not in ("", ".")]
    if any(set(s.strip()) == {"."} for s in segments):
        raise ValueError(f"{entry!r}: a folder may not contain '..'.")
    return "/".join(s.strip() for s in segments)


def normalize_network(entry: str) -> str:
    """An IP address or CIDR range, as ipaddress writes it ("10.1.2.3/8" -> "10.0.0.0/8")."""
    try:
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{entry!r} is not an IP address or a CIDR range (like 203.0.113.0/24).") from None
    return str(network.network_address) if network.num_addresses == 1 else str(network)


class SiteSettings(models.Model):
    """What staff change while the site runs: one row, edited in the admin.

    Requests read it through imgbed_site.runtime.current(), from a cache, never
    with a query of their own; saving it refreshes that cache."""

    SINGLETON_PK = 1

    class Refusal(models.TextChoices):
        PLACEHOLDER = "placeholder", "Answer 403 with the built-in placeholder image"
        REDIRECT = "redirect", "Redirect to the placeholder URL below"

    # Serving.
    allowed_referers = models.TextField(
        "allowed referer hosts",
        blank=True,
        help_text="Sites whose pages may show this site's files, one host per line (example.com also "
        "allows its subdomains). This site's own host is always allowed. Empty: any site may. A request "
        "whose Referer is another host, or cannot be read, gets 403.",
    )
    refuse_without_referer = models.BooleanField(
        "refuse requests without a Referer",
        default=False,
        help_text="Off: a link opened directly, or from a page that sends no Referer, is served. On: only "
        "requests from this site or an allowed host are (hotlink protection with no gaps, but some "
        "browsers, privacy tools and apps send no Referer).",
    )
    whitelist_mode = models.BooleanField(
        default=False,
        help_text="Serve only files marked Allowed; the others answer 403 with the placeholder. "
        "Blocked files are never served, whatever this says.",
    )
    refusal = models.CharField(
        "when a file is refused",
        max_length=20,
        choices=Refusal.choices,
        default=Refusal.PLACEHOLDER,
        help_text="What a refused request (blocked file, whitelist mode, referer) gets. Either way the "
        "answer says why in its X-Imgbed-Reason header.",
    )
    placeholder_url = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Where refused requests are redirected, e.g. https://cdn.example.com/blocked.png or "
        "/static/blocked.png. Not a /file/ link of this site (a refused request would loop).",
    )
    # Uploads.
    upload_ip_blocklist = models.TextField(
        "upload IP block-list",
        blank=True,
        help_text="Addresses that may not upload: IPs or CIDR ranges (203.0.113.0/24, 2001:db8::/32), one "
        "per line. Behind a proxy, set IMGBED_TRUSTED_PROXIES so that the client's own address is seen.",
    )
    # Public browsing and random images (their pages and API use these).
    public_browse = models.BooleanField(
        "public browsing", default=False, help_text="Anyone may list files, without signing in."
    )
    public_browse_folders = models.TextField(
        "public browsing folders",
        blank=True,
        help_text="Folders that may be browsed, one per line, each with its subfolders. Empty or * : all.",
    )
    random_enabled = models.BooleanField(
        "random image API", default=False, help_text="GET /random answers with a random file."
    )
    random_folders = models.TextField(
        "random image folders",
        blank=True,
        help_text="Folders /random may pick from, one per line, each with its subfolders. Empty or * : all.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "site settings"
        verbose_name_plural = "site settings"

    def __str__(self):
        return "Site settings"

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)
        from imgbed_site import runtime

        runtime.invalidate()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        from imgbed_site import runtime

        runtime.invalidate()
        return result

    @classmethod
    def load(cls) -> "SiteSettings":
        """The row (made with the defaults if there is none yet). For the admin: requests use runtime.current()."""
        row, _ = cls.objects.get_or_create(pk=cls.SINGLETON_PK)
        return row

    def clean(self):
        errors = {}
        lists = (
            ("allowed_referers", normalize_host),
            ("upload_ip_blocklist", normalize_network),
            ("public_browse_folders", normalize_folder),
            ("random_folders", normalize_folder),
        )
        for name, normalize in lists:
            values, bad = [], []
            for entry in split_entries(getattr(self, name)):
                try:
                    value = normalize(entry)
                except ValueError as exc:
                    bad.append(str(exc))
                    continue
                if value and value not in values:
                    values.append(value)
            if bad:
                errors[name] = bad
            else:
                setattr(self, name, "\n".join(values))
        self.placeholder_url = self.placeholder_url.strip()
        if self.placeholder_url:
            problem = _placeholder_problem(self.placeholder_url)
            if problem:
                errors["placeholder_url"] = problem
        elif self.refusal == self.Refusal.REDIRECT:
            errors["placeholder_url"] = "Redirecting needs a URL to redirect to."
        if errors:
            raise ValidationError(errors)


def _placeholder_problem(url: str) -> str | None:
    if url.startswith("/") and not url.startswith("//"):
        path = url
    else:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            return "Give an http(s) URL or a path on this site starting with /."
        parts = urlsplit(url)
        own = {urlsplit(settings.SITE_URL).hostname, *[h.lower() for h in settings.ALLOWED_HOSTS]}
        path = parts.path if (parts.hostname or "").lower() in own else ""
    if path.startswith("/file/"):
        return "Not a /file/ link of this site: a refused request would be redirected to it again and again."
    return None


class BeatLease(models.Model):
    """Which beat sends the site's periodic tasks: one row, held by one beat at a time.

    The beat holding it renews `until` every few seconds; another beat stands by
    and takes it once `until` has passed (the holder stopped or died)."""

    SINGLETON_PK = 1

    holder = models.CharField(max_length=200, help_text="host:pid:random of the beat holding the lease.")
    until = models.DateTimeField(help_text="The lease lapses then unless its holder renews it.")

    def __str__(self):
        return f"{self.holder} until {self.until:%Y-%m-%d %H:%M:%S}"
