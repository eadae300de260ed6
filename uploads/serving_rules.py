"""Whether a found file may be served to this request, in ImgBed's order.

1. The referer allow-list (when staff set one, or refuse requests without a
   Referer): the site's own hosts are always allowed; a host matches an entry
   or ends with "." + entry; a Referer that cannot be read is refused; no
   Referer is allowed unless staff refuse it.
2. A file marked White (Allowed) is served.
3. One marked Block is refused.
4. In whitelist mode, every other file is refused.

A refusal is a 403 with the built-in placeholder image (plain text for a page
opened in the browser), or a redirect to the staff's placeholder URL; either
way the reason is in words in X-Imgbed-Reason, its kind in X-Imgbed-Refusal.
"""

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.cache import patch_vary_headers

from uploads import placeholder
from uploads.models import StoredFile


@dataclass(frozen=True)
class Refusal:
    kind: str  # referer-not-allowed, referer-unreadable, referer-missing, blocked, not-approved
    reason: str  # one sentence, for the header and the text body
    hint: str = ""  # what the person can do, for the text body


def refusal(request, stored, rules) -> Refusal | None:
    """Why this request may not have this file, or None when it may."""
    if rules.checks_referer:
        referer = request.headers.get("Referer", "").strip()
        if not referer:
            if rules.refuse_without_referer:
                return Refusal(
                    "referer-missing",
                    "This site serves its files only to its own pages and the sites it allows, "
                    "and this request did not say which page it came from (no Referer).",
                    "Open the file from a page that links to it, or ask the site's staff.",
                )
        else:
            host = referer_host(referer)
            if host is None:
                return Refusal(
                    "referer-unreadable",
                    "The request's Referer header is not a web address this site can read, "
                    "so the file is not served.",
                )
            if not host_allowed(host, own_hosts() + rules.allowed_referers):
                return Refusal(
                    "referer-not-allowed",
                    f"This site does not allow its files to be shown on {_printable(host)}.",
                    "Open the link directly, or ask the site's staff to allow that site.",
                )
    if stored.list_type == StoredFile.ListType.WHITE:
        return None
    if stored.list_type == StoredFile.ListType.BLOCK:
        return Refusal(
            "blocked",
            "This file has been blocked by the site's staff.",
            "If you think this is a mistake, contact the site's staff.",
        )
    if rules.whitelist_mode:
        return Refusal(
            "not-approved",
            "This site serves only the files its staff have approved, and this one is not approved yet.",
            "Try again later, or contact the site's staff.",
        )
    return None


def referer_host(referer: str) -> str | None:
    """The lower-case host of a Referer, or None when it has none that can be read."""
    try:
        parts = urlsplit(referer)
        host = parts.hostname
    except ValueError:  # an invalid IPv6 literal, a bad port
        return None
    if not parts.scheme or not host:
        return None
    return host.rstrip(".")


def host_allowed(host: str, entries) -> bool:
    return any(host == entry or host.endswith("." + entry) for entry in entries)


def own_hosts() -> tuple:
    return _own_hosts(settings.SITE_URL, tuple(settings.ALLOWED_HOSTS))


@functools.lru_cache(maxsize=8)
def _own_hosts(site_url: str, allowed_hosts: tuple) -> tuple:
    hosts = []
    site = urlsplit(site_url).hostname
    if site:
        hosts.append(site.lower())
    for entry in allowed_hosts:
        # "*" would let every site in; ".example.com" is Django's "and its subdomains", as entries here are.
        entry = entry.strip().lower().lstrip(".").strip("[]")
        if entry and entry != "*" and entry not in hosts:
            hosts.append(entry)
    return tuple(hosts)


def refused(request, why: Refusal, rules):
    """The answer to a refused request (HEAD: the same, without the body)."""
    if rules.redirects:
        response = HttpResponseRedirect(rules.placeholder_url)
    elif _wants_page(request):
        text = why.reason + (f"\n\n{why.hint}" if why.hint else "") + "\n"
        response = HttpResponse(text.encode(), status=403, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(placeholder.png(), status=403, content_type="image/png")
    length = len(response.content)
    if request.method == "HEAD":
        response.content = b""
    response["Content-Length"] = str(length)
    response["X-Imgbed-Refusal"] = why.kind
    response["X-Imgbed-Reason"] = _printable(why.reason)
    # The answer changes as soon as staff change their mind: nobody may keep it.
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def vary(response, rules):
    """A served file's answer depends on the Referer when the referer rules apply: caches must know."""
    if rules.checks_referer:
        patch_vary_headers(response, ["Referer"])
    return response


def _wants_page(request) -> bool:
    """A page opened in the browser (or an iframe) gets words; an <img>, a script or curl gets the image."""
    destination = request.headers.get("Sec-Fetch-Dest")
    if destination:
        return destination in ("document", "iframe", "frame")
    return "text/html" in request.headers.get("Accept", "")


def _printable(text: str, limit: int = 300) -> str:
    """Header-safe: printable ASCII only (a Referer's host may be anything the client sent)."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in text)
    return cleaned[:limit]
