"""Repeated authentication failures from one address: counted, then refused with 429.

A wrong API token, a wrong or disabled auth code and a wrong admin password each
count against the address the request came from (uploads.client_ip). After
IMGBED_AUTH_FAILURE_LIMIT of them within IMGBED_AUTH_FAILURE_WINDOW seconds, that
address may not try a credential again until the window ends: the answer is 429
with Retry-After, and the credential is not even looked at, so a guess that
happens to be right is not told apart from a wrong one.

The counts live in Django's cache (CACHE_URL): with Redis every web process sees
the same count; with the per-process default each process counts on its own.
A success never resets a count: otherwise one valid code would let its holder
go on guessing others. Requests without a credential are not counted: they are
not guesses, and a signed-in staff session is never locked out by them.
A cache that does not answer lets requests through (logged): signing in must
not depend on a cache.
"""

import ipaddress
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from uploads.client_ip import client_ip

log = logging.getLogger(__name__)

KEY = "imgbed:auth-failures:v1:"
# An address we cannot know (a Unix socket without IMGBED_TRUSTED_PROXIES) shares one count.
UNKNOWN = "unknown"


def _counted_as(address: str | None) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64 (the block one home or
    server is given: each of its 2^64 addresses must not get a count of its own)."""
    if not address:
        return UNKNOWN
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(request) -> tuple[str, str]:
    """The address's failure count, and when its window began."""
    base = KEY + _counted_as(client_ip(request))
    return base, base + ":since"


def retry_after(request) -> int | None:
    """Seconds until this address may try a credential again, or None when it may now."""
    if settings.IMGBED_AUTH_FAILURE_LIMIT <= 0:
        return None  # 0 turns the limit off (a front server that limits on its own)
    count_key, since_key = _keys(request)
    try:
        found = cache.get_many([count_key, since_key])
    except Exception:
        log.warning("auth failure count: the cache did not answer; not limiting", exc_info=True)
        return None
    if found.get(count_key, 0) < settings.IMGBED_AUTH_FAILURE_LIMIT:
        return None
    window = settings.IMGBED_AUTH_FAILURE_WINDOW
    left = found.get(since_key, time.time()) + window - time.time()
    if left <= 0:
        return None
    return max(1, math.ceil(left))


def failed(request) -> None:
    """Count one failure for this address."""
    count_key, since_key = _keys(request)
    window = settings.IMGBED_AUTH_FAILURE_WINDOW
    now = time.time()
    try:
        since = cache.get(since_key)
        if since is not None and now - since >= window:
            cache.delete_many([count_key, since_key])  # kept a moment past its window: a new one begins
            since = None
        if since is None:
            cache.add(since_key, now, window)
        cache.add(count_key, 0, window)
        # An atomic increment (Redis INCR, locmem under its lock): guesses sent all at once each count.
        try:
            count = cache.incr(count_key)
        except ValueError:  # expired between the two calls
            cache.set(count_key, 1, window)
            count = 1
    except Exception:
        log.warning("auth failure count: the cache did not answer; not counted", exc_info=True)
        return
    if count == settings.IMGBED_AUTH_FAILURE_LIMIT:
        log.warning(
            "%s failed authentications from %s within %ss: refusing its credentials for now",
            count,
            client_ip(request) or UNKNOWN,
            window,
        )


def message(seconds: int) -> str:
    return (
        f"Too many failed sign-ins or wrong credentials from your address. Wait {seconds} seconds, "
        "then try again with the right API token, auth code or password."
    )
