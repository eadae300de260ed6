"""The filesystem broker (the laptop default): a worker never takes a message still being written.

kombu's own filesystem transport writes each message into the queue folder in place; a
worker listing the folder meanwhile takes the file half-written and fails on it (kombu issue
#1551), and the task is lost. Here a consumer looks at the queue in the middle of every write.
"""

import builtins
import queue
import uuid

import pytest
from kombu import Connection

from imgbed_site.broker import FilesystemTransport


@pytest.fixture
def name():
    # kombu keeps the queues it has bound for the life of the process, whatever the folder:
    # a queue of another test's name would be taken as bound here already.
    return f"uploads-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def folders(tmp_path):
    made = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for path in made.values():
        path.mkdir()
    return made


def connection(folders) -> Connection:
    return Connection(
        transport=FilesystemTransport,
        transport_options={
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "store_processed": False,
        },
    )


class _WrittenInTwo:
    """A file being written: half of each write lands, then `midway()` runs, then the rest."""

    def __init__(self, file, midway):
        self._file = file
        self._midway = midway

    def write(self, data):
        half = len(data) // 2
        self._file.write(data[:half])
        self._file.flush()
        self._midway()
        return half + self._file.write(data[half:])

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


def test_a_message_is_taken_only_once_it_is_whole(folders, name, monkeypatch):
    message = {"task": "uploads.tasks.upload_to_channel", "args": [42], "padding": "x" * 4096}
    with connection(folders) as producer, connection(folders) as consumer:
        outbox = producer.SimpleQueue(name)
        inbox = consumer.SimpleQueue(name)
        seen_midway = []

        def look():
            try:
                taken = inbox.get_nowait()
                taken.ack()
                seen_midway.append(taken.payload)
            except queue.Empty:
                seen_midway.append("nothing")
            except Exception as exc:  # what kombu's own transport does: a half message, unreadable
                seen_midway.append(f"a broken message: {exc!r}")

        real_open = builtins.open

        def open_watched(file, mode="r", *args, **kwargs):
            opened = real_open(file, mode, *args, **kwargs)
            if "w" in mode and str(file).startswith(str(folders["queue"])):
                return _WrittenInTwo(opened, look)
            return opened

        monkeypatch.setattr(builtins, "open", open_watched)
        outbox.put(message)
        monkeypatch.setattr(builtins, "open", real_open)

        assert seen_midway == ["nothing"]
        taken = inbox.get_nowait()
        assert taken.payload == message
        taken.ack()
        with pytest.raises(queue.Empty):
            inbox.get_nowait()
        assert list(folders["queue"].iterdir()) == []


def test_a_message_that_cannot_be_written_leaves_nothing_behind(folders, name, monkeypatch):
    with connection(folders) as producer, connection(folders) as consumer:
        outbox = producer.SimpleQueue(name)
        real_open = builtins.open

        class DiskFull:
            def __init__(self, file):
                self._file = file

            def write(self, data):
                self._file.write(data[:10])
                raise OSError(28, "No space left on device")

            def __getattr__(self, name):
                return getattr(self._file, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._file.close()

        def open_full(file, mode="r", *args, **kwargs):
            opened = real_open(file, mode, *args, **kwargs)
            return DiskFull(opened) if "w" in mode and str(file).startswith(str(folders["queue"])) else opened

        monkeypatch.setattr(builtins, "open", open_full)
        with pytest.raises(Exception, match="Cannot add file"):
            outbox.put({"task": "x"})
        monkeypatch.setattr(builtins, "open", real_open)

        assert list(folders["queue"].iterdir()) == []
        with pytest.raises(queue.Empty):
            consumer.SimpleQueue(name).get_nowait()
