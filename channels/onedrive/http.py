"""The HTTP session Graph calls go through: one per thread and process.

A new session per call meant a new TLS handshake per file, most of the CPU a
small upload cost a worker. requests' sessions are not safe across threads
and a forked child must not share its parent's sockets, hence the key.
"""

import http.cookiejar
import os
import threading
from urllib.parse import urlsplit

import requests

_local = threading.local()


class _Session(requests.Session):
    """A requests session that reads the proxy and CA settings of the environment
    once per host, not on every request: that scan of os.environ cost a small
    upload a tenth of its CPU. Settings passed to a call still win, as in requests."""

    def __init__(self):
        super().__init__()
        self._environment = {}
        # Shared by every channel and account in the process: nothing may carry over between them.
        self.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if proxies or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        origin = urlsplit(url)[:2]
        if origin not in self._environment:
            self._environment[origin] = super().merge_environment_settings(url, {}, None, None, None)
        found = self._environment[origin]
        return {
            **found,
            "proxies": dict(found["proxies"]),
            "stream": self.stream if stream is None else stream,
        }


def session() -> requests.Session:
    if getattr(_local, "pid", None) != os.getpid():
        _local.session = _Session()
        _local.pid = os.getpid()
    return _local.session
