"""GET and HEAD /file/<id>: from staging until stored, then from the channel.

Per channel, a stored file is either proxied (streamed from a fresh download
URL, ranges passed on) or redirected to (302). Active content (HTML, SVG,
XML, scripts, anything unknown) is always an attachment, sandboxed, never
rendered from this site's origin.
"""

import logging
import re
import unicodedata
from urllib.parse import quote

from django.conf import settings
from django.http import (
    Http404,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import http_date, parse_http_date_safe, quote_etag

from channels.backends import backend_for
from channels.errors import ChannelError
from imgbed_site import runtime
from uploads import serving_rules, staging
from uploads.models import FormerId, StoredFile
from uploads.sniff import is_inline_safe

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int):
    """(start, end) inclusive for a single byte range, None for the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.replace(" ", ""))
    if not match:
        return None  # multiple or malformed ranges: serve the whole file, as RFC 9110 allows
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise Unsatisfiable()
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise Unsatisfiable()
    return start, end


def _not_modified(request, etag, last_modified):
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or (etag is not None and (etag in tags or f"W/{etag}" in tags))
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and int(last_modified.timestamp()) <= since


def _range_applies(request, etag, last_modified):
    if_range = request.headers.get("If-Range")
    if not if_range:
        return True
    if if_range.startswith('"') or if_range.startswith("W/"):
        return etag is not None and if_range == etag
    date = parse_http_date_safe(if_range)
    return date is not None and int(last_modified.timestamp()) <= date


def _common_headers(response, stored, etag, last_modified):
    inline = is_inline_safe(stored.content_type)
    response["Content-Type"] = stored.content_type if inline else _safe_type(stored.content_type)
    response["Content-Disposition"] = disposition(
        "inline" if inline else "attachment", stored.original_name or stored.name
    )
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "public, max-age=2592000"
    if etag is not None:
        response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified.timestamp())
    response["X-Content-Type-Options"] = "nosniff"
    response["Access-Control-Allow-Origin"] = "*"
    # Even if a browser renders it, a file cannot run script with this site's origin.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    return response


def disposition(kind: str, name: str) -> str:
    """Both forms, as ImgBed sends them: an ASCII fallback and the exact UTF-8 name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", ascii_name).strip() or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _safe_type(content_type):
    # Active content keeps its type for the download, but a page's (HTML, XHTML, in any case) never
    # goes out: a browser that ignored the attachment would render it.
    media = content_type.split(";", 1)[0].strip().lower()
    return "application/octet-stream" if "html" in media or not media else content_type


def serve(request, public_id):
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405)
        response["Allow"] = "GET, HEAD"
        return response
    stored = _find(public_id)
    if stored is None:
        moved = _moved(request, public_id)
        if moved is not None:
            return moved
        raise Http404("No such file.")
    # Staff's rules (referer allow-list, Block / White, whitelist mode), from the settings cache.
    rules = runtime.current()
    why = serving_rules.refusal(request, stored, rules)
    if why is not None:
        return serving_rules.refused(request, why, rules)
    # A file found by a rescan without its hash has none: no ETag rather than an empty one,
    # which every other such file would share.
    etag = quote_etag(stored.sha256[:32]) if stored.sha256 else None
    last_modified = stored.created_at
    if _not_modified(request, etag, last_modified):
        response = _common_headers(HttpResponse(status=304), stored, etag, last_modified)
        return serving_rules.vary(response, rules)

    staged = None
    if stored.status != StoredFile.Status.STORED:
        staged = staging.open_if_present(stored.staged_name)
        if staged is None:
            # Gone since the row was read: a worker stored the file and removed its
            # staged copy in between. The row in hand is out of date, not the file.
            stored = _find(public_id)
            if stored is None or stored.status != StoredFile.Status.STORED:
                raise Http404("The file's bytes are not available.")
    try:
        response = _respond(request, stored, staged, etag, last_modified)
    except BaseException:
        if staged is not None:
            staged.close()
        raise
    if staged is not None and not response.streaming:
        staged.close()  # HEAD, 416: nothing was read
    return serving_rules.vary(response, rules)


def _moved(request, public_id):
    """A 301 to the file's current link when it was moved or renamed away from this id."""
    current = (
        FormerId.objects.filter(public_id=public_id, file__receiving=False)
        .exclude(file__status=StoredFile.Status.DELETED)
        .values_list("file__public_id", flat=True)
        .first()
    )
    if current is None:
        return None
    query = request.META.get("QUERY_STRING", "")
    response = HttpResponsePermanentRedirect(f"/file/{quote(current)}" + (f"?{query}" if query else ""))
    response["Access-Control-Allow-Origin"] = "*"
    # Not cached for ever: the old id may later be given to another upload.
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _find(public_id):
    return (
        StoredFile.objects.select_related("channel")
        .exclude(status=StoredFile.Status.DELETED)
        .filter(public_id=public_id, receiving=False)  # still arriving: its link is not given out yet
        .first()
    )


def _respond(request, stored, staged, etag, last_modified):
    backend = None
    if staged is None:
        if not stored.remote_id:
            raise Http404("The file's bytes are not available.")
        try:
            backend = backend_for(stored.channel)
            location = backend.redirect_url(stored.remote_id)
        except ChannelError as exc:
            raise _unavailable(stored, exc) from exc
        if location:
            response = _common_headers(HttpResponseRedirect(location), stored, etag, last_modified)
            # The target expires (a presigned S3 URL, a Graph download URL): a cached redirect would outlive it.
            response["Cache-Control"] = "no-store"
            return response
        if settings.IMGBED_SENDFILE and hasattr(backend, "local_path"):
            try:
                path = backend.local_path(stored.remote_id)
            except ChannelError as exc:
                raise _unavailable(stored, exc) from exc
            return _common_headers(_sendfile(path), stored, etag, last_modified)

    try:
        byte_range = (
            parse_range(request.headers.get("Range"), stored.size)
            if _range_applies(request, etag, last_modified)
            else None
        )
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{stored.size}"
        return _common_headers(response, stored, etag, last_modified)
    start, end = byte_range if byte_range else (0, stored.size - 1)
    length = end - start + 1

    if request.method == "HEAD":
        response = HttpResponse(status=206 if byte_range else 200)
    else:
        if staged is not None:
            body = _staged_body(staged, start, length)
        elif length <= 0:
            body = []
        else:
            try:
                body = backend.open_range(stored.remote_id, start, end)
            except ChannelError as exc:
                raise _unavailable(stored, exc) from exc
        response = StreamingHttpResponse(body, status=206 if byte_range else 200)
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
    return _common_headers(response, stored, etag, last_modified)


def _sendfile(path):
    """An empty answer the front server fills from disk (it does ranges and HEAD itself)."""
    response = HttpResponse()
    if settings.IMGBED_SENDFILE == "nginx":
        response["X-Accel-Redirect"] = settings.IMGBED_SENDFILE_PREFIX.rstrip("/") + quote(str(path))
    else:
        response["X-Sendfile"] = str(path)
    return response


def _staged_body(fh, start, length):
    """The body from an open staged file, which it closes when done (the response owns it now)."""
    if start:
        fh.seek(start)

    def chunks():
        remaining = length
        with fh:
            while remaining > 0:
                data = fh.read(min(CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data

    return chunks()


def _unavailable(stored, exc) -> Http404:
    log.warning("file %s: cannot be read from its channel: %s", stored.pk, exc)
    return Http404("The file cannot be fetched from its channel right now.")
