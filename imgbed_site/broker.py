"""kombu's Redis transport, with one Redis client per channel for publishing.

kombu builds a new redis.Redis object for every message it publishes, and
redis-py fills a table of about 170 response callbacks in each one: on a
small upload that was a fifth of the web process's CPU. The client holds no
connection of its own (its pool does), so one per channel and pool serves
every publish; kombu already keeps one this way for consuming.
"""

from contextlib import contextmanager

from kombu.transport import redis


class Channel(redis.Channel):
    _publish_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        cached = self._publish_client
        # A fork or a reconnect replaces the pool: the client must follow it.
        if cached is None or cached.connection_pool is not self.pool:
            cached = self._publish_client = self._create_client()
        yield cached


class Transport(redis.Transport):
    Channel = Channel
