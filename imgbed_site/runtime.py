"""The site settings staff change in the admin, as requests read them: without a query.

current() answers from a per-process memo for MEMO_SECONDS; after that it asks
Django's cache (CACHE_URL: Redis shares it between processes), and only when
the cache has nothing (the first request after a start, a flush, or every
CACHE_SECONDS at most) the database. Saving the settings replaces the cache's
copy once the transaction commits and drops this process's memo.

How stale a process can be after staff save:
- the process that saved: not at all (its memo is dropped; a request of
  another of its threads that was reading meanwhile may set it back, for at
  most MEMO_SECONDS);
- any other process, with a shared cache (Redis): at most MEMO_SECONDS. A
  reader that read the old row before the commit only add()s it, so it
  cannot overwrite the row the save publishes;
- any other process, with a per-process cache (the locmem default, i.e.
  several gunicorn workers without CACHE_URL): at most CACHE_SECONDS +
  MEMO_SECONDS, when its own copy expires.
Two saves at the same moment may publish in the wrong order: the older one
then lasts until the cache's copy expires (CACHE_SECONDS) or the next save.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

MEMO_SECONDS = 2.0
CACHE_SECONDS = 60
CACHE_KEY = "imgbed:site-settings:v1"

_clock = time.monotonic
_memo = None  # (valid until, Runtime)


@dataclass(frozen=True)
class Runtime:
    """A parsed snapshot of SiteSettings."""

    allowed_referers: tuple = ()
    refuse_without_referer: bool = False
    whitelist_mode: bool = False
    refusal: str = "placeholder"
    placeholder_url: str = ""
    upload_blocklist: tuple = ()  # ip_network objects
    public_browse: bool = False
    public_browse_folders: tuple = ()
    random_enabled: bool = False
    random_folders: tuple = ()

    @property
    def checks_referer(self) -> bool:
        """Whether the referer rules apply at all: an allow-list is set, or requests without a Referer are refused."""
        return bool(self.allowed_referers) or self.refuse_without_referer

    @property
    def redirects(self) -> bool:
        return self.refusal == "redirect" and bool(self.placeholder_url)

    def upload_blocked(self, address) -> bool:
        """Whether an ip_address (or None: unknown) may not upload."""
        return address is not None and any(
            address.version == network.version and address in network for network in self.upload_blocklist
        )

    def browse_allows(self, folder: str) -> bool:
        return folder_allowed(folder, self.public_browse_folders)

    def random_allows(self, folder: str) -> bool:
        return folder_allowed(folder, self.random_folders)


def folder_allowed(folder: str, allowed: tuple) -> bool:
    """A folder ("a/b", "" for the top) equal to or below an allowed one; everything when none (or "*") is set.

    With a restriction, the top folder is refused: it holds every folder."""
    if not allowed or "*" in allowed:
        return True
    folder = folder.strip("/")
    return bool(folder) and any(folder == entry or folder.startswith(entry + "/") for entry in allowed)


def current() -> Runtime:
    """The settings now in force (at most MEMO_SECONDS old in this process)."""
    global _memo
    memo = _memo
    now = _clock()
    if memo is not None and memo[0] > now:
        return memo[1]
    snapshot = _snapshot(_fields())
    _memo = (now + MEMO_SECONDS, snapshot)
    return snapshot


def shared_cache() -> bool:
    """Whether the cache is one every process sees (Redis, Memcached, a database), not each its own."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    return not backend.endswith(("locmem.LocMemCache", "dummy.DummyCache"))


def invalidate():
    """Called when the row is saved: this process forgets it now, the cache after commit."""
    global _memo
    _memo = None
    _cache_call("delete", CACHE_KEY)  # readers in this transaction (and tests) see the new row
    # After commit, the committed row goes into the cache. A reader that read the old row
    # before the commit only add()s it: it cannot overwrite this.
    transaction.on_commit(_publish)


def forget():
    """Drop every copy (tests; after restoring a database)."""
    global _memo
    _memo = None
    _cache_call("delete", CACHE_KEY)


def _publish():
    global _memo
    _cache_call("set", CACHE_KEY, _from_db(), CACHE_SECONDS)
    _memo = None


def _fields() -> dict:
    fields = _cache_call("get", CACHE_KEY)
    if isinstance(fields, dict):
        return fields
    fields = _from_db()
    _cache_call("add", CACHE_KEY, fields, CACHE_SECONDS)
    return fields


def _from_db() -> dict:
    from imgbed_site.models import SiteSettings

    names = _field_names()
    row = SiteSettings.objects.filter(pk=SiteSettings.SINGLETON_PK).values(*names).first()
    if row is None:
        row = {f.name: f.get_default() for f in SiteSettings._meta.concrete_fields if f.name in names}
    return row


def _field_names():
    from imgbed_site.models import SiteSettings

    return [f.name for f in SiteSettings._meta.concrete_fields if f.name not in ("id", "updated_at")]


def _cache_call(method, *args):
    """The cache, or nothing when it is down: the settings then come from the database,
    once per MEMO_SECONDS per process, and requests go on."""
    try:
        return getattr(cache, method)(*args)
    except Exception as exc:  # a Redis that is down raises its own errors
        log.warning("site settings: the cache did not answer (%s); reading the database", exc)
        return None


def _snapshot(fields: dict) -> Runtime:
    from imgbed_site.models import normalize_folder, normalize_host, split_entries

    def parsed(name, parse):
        values = []
        for entry in split_entries(fields.get(name, "")):
            try:
                values.append(parse(entry))
            except ValueError:
                log.warning("site settings: %s has an unreadable entry %r, ignored", name, entry)
        return tuple(v for v in values if v != "")

    return Runtime(
        allowed_referers=parsed("allowed_referers", normalize_host),
        refuse_without_referer=bool(fields.get("refuse_without_referer")),
        whitelist_mode=bool(fields.get("whitelist_mode")),
        refusal=fields.get("refusal") or "placeholder",
        placeholder_url=(fields.get("placeholder_url") or "").strip(),
        upload_blocklist=parsed("upload_ip_blocklist", lambda e: ipaddress.ip_network(e, strict=False)),
        public_browse=bool(fields.get("public_browse")),
        public_browse_folders=parsed("public_browse_folders", normalize_folder),
        random_enabled=bool(fields.get("random_enabled")),
        random_folders=parsed("random_folders", normalize_folder),
    )
