"""The broker sink: each task published here, and the messages waiting in a broker."""

import base64
import hashlib
import json
from pathlib import Path

from tests.secrets_scan.scanner import Scanner, current


def install_broker_hooks() -> None:
    from celery.signals import before_task_publish

    def published(sender=None, body=None, headers=None, **kwargs):
        current().write(
            "broker message", f"a {sender} message", repr(body) + "\n" + json.dumps(headers, default=repr)
        )

    before_task_publish.connect(published, weak=False, dispatch_uid="secrets_scan")


def decode_message(raw) -> str:
    """A kombu message as stored by its transport: the JSON envelope and its body, decoded."""
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    try:
        message = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(message, list) and message:  # the unacked hash holds [message, exchange, key]
        message = message[0]
    if not isinstance(message, dict):
        return raw
    body = message.get("body", "")
    if message.get("properties", {}).get("body_encoding") == "base64" and isinstance(body, str):
        try:
            body = base64.b64decode(body).decode(errors="replace")
        except ValueError:
            pass
    return raw + "\n" + str(body)


_redis_clients = {}


def _redis_client(url, keep: bool):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    if url in _redis_clients:
        return _redis_clients[url]
    # No retries: a Redis a test stopped on purpose must not hold up every check.
    client = redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    if keep:
        _redis_clients[url] = client
    return client


def waiting_messages(scanner: Scanner, url: str | None = None) -> None:
    """The messages sitting in the broker (the suite's, or the Redis at `url`): Redis lists and
    the unacked hash, or the filesystem transport's queue folder."""
    from django.conf import settings

    url = url or settings.CELERY_BROKER_URL
    if url.startswith("redis://"):
        import redis

        try:
            client = _redis_client(url, keep=url == settings.CELERY_BROKER_URL)
            for key in client.scan_iter(count=500):
                kind = client.type(key)
                if kind == b"list":
                    values = client.lrange(key, 0, -1)
                elif kind == b"hash":
                    values = client.hvals(key)
                else:
                    continue
                for value in values:
                    _waiting(scanner, f"the broker's {key.decode(errors='replace')}", value)
        except redis.RedisError:
            return  # a test that stopped Redis on purpose: its messages are gone with it
    elif url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        for path in folder.glob("*"):
            try:
                data = path.read_bytes()
            except OSError:
                continue  # taken by a worker meanwhile
            _waiting(scanner, "the broker's queue folder", data)


def _waiting(scanner: Scanner, where: str, raw: bytes) -> None:
    # A message that waits through many tests (a killed worker's, unacked) is searched again
    # only once more secrets are known.
    key = (where, hashlib.sha256(raw).digest())
    if scanner.messages_seen.get(key) != len(scanner.kinds):
        scanner.messages_seen[key] = len(scanner.kinds)
        scanner.write("broker message", where, decode_message(raw))
