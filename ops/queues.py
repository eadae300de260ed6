"""What the broker and the workers say about themselves."""

import logging

from imgbed_site.celery import app

log = logging.getLogger(__name__)

QUEUES = ("celery",)


def queue_lengths() -> dict:
    lengths = {}
    try:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            for name in QUEUES:
                lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
    except Exception as exc:  # the page must render even when the broker is down
        log.warning("cannot read queue lengths: %s", exc)
        return {"error": f"The broker cannot be reached ({type(exc).__name__})."}
    return lengths


def workers_online() -> list[str] | None:
    """Names of the workers that answered a ping, or None when the broker cannot broadcast."""
    if app.conf.broker_url.startswith("filesystem://"):
        return None  # kombu's filesystem transport has no broadcast
    try:
        replies = app.control.inspect(timeout=1.0).ping() or {}
    except Exception as exc:
        log.warning("cannot ping workers: %s", exc)
        return []
    return sorted(replies)
