"""A TCP forwarder in front of a server that a test can take down and bring back.

Down, its port refuses connections and the connections under way are reset, as
when a server or its host goes away; back up, it listens on the same port again.
The server behind it keeps its state, so what was stored before is there after.
"""

import contextlib
import socket
import threading
import time


class Switch:
    def __init__(self, target_host: str, target_port: int, *, delay: float = 0.0):
        """`delay`: seconds to wait after each chunk (up to 64 KiB) sent towards the server, so an
        upload is slow enough to be interrupted half-way."""
        self.target = (target_host, target_port)
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._serve()

    def url(self, scheme="http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def down(self):
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()  # with SO_LINGER 0: a reset, not a polite close

    def up(self):
        with self._lock:
            if self._listener is not None:
                return
            self._listener = socket.create_server(("127.0.0.1", self.port))
        self._serve()

    def close(self):
        self.down()

    def _serve(self):
        listener = self._listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: down
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._open.update((client, server))
            for source, sink, delay in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, delay), daemon=True).start()

    def _pump(self, source, sink, delayed):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if delayed and self.delay:
                    time.sleep(self.delay)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
