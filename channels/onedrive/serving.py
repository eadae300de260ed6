"""Serving a OneDrive file: a short-lived pre-authenticated download URL, redirected to or proxied."""

import logging

import requests
from django.conf import settings
from django.core.cache import cache

from channels.errors import TransientError
from channels.onedrive import http

log = logging.getLogger(__name__)

CHUNK = 256 * 1024


def _cache_key(channel_id, remote_id):
    return f"imgbed:download-url:{channel_id}:{remote_id}"


def download_url(backend, remote_id, fresh=False) -> str:
    key = _cache_key(backend.channel.pk, remote_id)
    url = None if fresh else cache.get(key)
    if url is None:
        url = backend.download_url(remote_id)
        # Download URLs live minutes to an hour: keep one well under that.
        cache.set(key, url, settings.IMGBED_DOWNLOAD_URL_TTL)
    return url


def ranged_body(backend, remote_id, start, end):
    headers = {"Range": f"bytes={start}-{end}"}
    upstream = None
    for fresh in (False, True):
        try:
            # The worker's session: a new one per GET cost a TLS handshake, two thirds of a proxied read.
            upstream = http.session().get(
                download_url(backend, remote_id, fresh=fresh),
                headers=headers,
                stream=True,
                timeout=settings.ONEDRIVE_HTTP_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach OneDrive's download ({type(exc).__name__}).") from exc
        if upstream.status_code in (200, 206):
            break
        upstream.close()  # an expired URL: fetch a new one once
    if upstream.status_code not in (200, 206):
        raise TransientError(f"OneDrive's download answered {upstream.status_code}.")

    # A server that ignores Range answers 200 with everything: cut the range out.
    skip = start if upstream.status_code == 200 else 0
    limit = end - start + 1

    def chunks():
        nonlocal skip, limit
        with upstream:
            for data in upstream.iter_content(CHUNK):
                if skip:
                    cut = min(skip, len(data))
                    data, skip = data[cut:], skip - cut
                data = data[:limit]
                limit -= len(data)
                if data:
                    yield data
                if limit <= 0:
                    break

    return chunks()
