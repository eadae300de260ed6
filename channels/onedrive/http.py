"""The HTTP session Graph calls go through: one per thread and process.

A new session per call meant a new TLS handshake per file, most of the CPU a
small upload cost a worker. requests' sessions are not safe across threads
and a forked child must not share its parent's sockets, hence the key.
"""

import os
import threading

import requests

_local = threading.local()


def session() -> requests.Session:
    if getattr(_local, "pid", None) != os.getpid():
        _local.session = requests.Session()
        _local.pid = os.getpid()
    return _local.session
