"""The Graph + identity emulator in a process of its own, for the benchmarks.

Started by bench/_harness.py, so the emulator's TLS and hashing do not share
a GIL with the processes being measured. It registers an app, adds an account
with a large drive, and prints one JSON line with what a client needs (base
URL, CA file, app credentials, a refresh token for the channel row and an
access token for direct uploads); then it serves until SIGTERM.

By default its connections are set TCP_NODELAY. As shipped, the emulator
writes an answer's headers and body in two sends with Nagle's algorithm on,
so every answer with a body waits for the client's delayed ACK (about 40 ms
on Linux): a stall real Graph does not add, which would swamp what the
benchmarks measure. --stock keeps the emulator exactly as shipped.
"""

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulator import server  # noqa: E402
from tests.emulator.emulator import Emulator, GiB  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage-dir", required=True, help="where uploaded bytes are spooled")
    parser.add_argument("--quota-gib", type=float, default=1024.0)
    parser.add_argument("--stock", action="store_true", help="leave Nagle's algorithm on, as shipped")
    args = parser.parse_args()
    # socketserver.StreamRequestHandler sets TCP_NODELAY on each connection when this is true.
    server._Handler.disable_nagle_algorithm = not args.stock

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    emu = Emulator(storage_dir=args.storage_dir)
    emu.start()
    try:
        user = emu.add_user("Bench User", "bench@example.com", quota_total=int(args.quota_gib * GiB))
        app = emu.register_app(redirect_uris=["http://127.0.0.1/api/oauth/onedrive/callback"])
        info = {
            "base_url": emu.base_url,
            "ca": emu.ca_pem_path,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "refresh_token": emu.issue_refresh_token(app, user),
            "access_token": emu.issue_access_token(app, user),
            "nodelay": not args.stock,
        }
        print(json.dumps(info), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
