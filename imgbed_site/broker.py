"""kombu's Redis and filesystem transports, with what they lack here.

Redis: one Redis client per channel for publishing.

kombu builds a new redis.Redis object for every message it publishes, and
redis-py fills a table of about 170 response callbacks in each one: on a
small upload that was a fifth of the web process's CPU. The client holds no
connection of its own (its pool does), so one per channel and pool serves
every publish; kombu already keeps one this way for consuming.

Filesystem (the laptop default): a message appears in the queue folder whole.
kombu writes it in place, so a worker listing the folder meanwhile could take
a file still being written and fail on half a message (kombu issue #1551):
the task lost. Here it is written under a name no queue reads, then renamed
into place, which is atomic on one filesystem.
"""

import os
import uuid
from contextlib import contextmanager

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, redis
from kombu.utils.json import dumps


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


class FilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu's name: time first (the folder is read in sorted order), the queue after the first dot.
        name = f"{int(round(filesystem.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Ends in ".part": no queue's name (what follows the first dot) matches it.
        partial = final + ".part"
        try:
            with open(partial, "wb") as f:
                f.write(dumps(payload).encode())
            os.rename(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel
