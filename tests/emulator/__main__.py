"""Run the emulator by hand, for trying the site's OneDrive sign-in and uploads:

    python -m tests.emulator --port 8443 --client-id ID --client-secret SECRET \
        --redirect-uri http://localhost:8000/api/oauth/onedrive/callback
"""

import argparse
import signal
import threading
from pathlib import Path

from .emulator import Emulator, GiB


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--client-id", help="app (client) id to register; made up when omitted")
    parser.add_argument("--client-secret", help="the secret's value; made up when omitted")
    parser.add_argument(
        "--redirect-uri", action="append", default=[], help="registered redirect URI (repeatable)"
    )
    parser.add_argument(
        "--audience", default="consumers", help="consumers, common, organizations or a tenant GUID"
    )
    parser.add_argument("--app-name", default="imgbed-onedrive")
    parser.add_argument("--user-name", default="Ada Lovelace")
    parser.add_argument("--user-email", default="ada@example.com")
    parser.add_argument("--quota-gib", type=float, default=5.0, help="drive size in GiB")
    parser.add_argument("--storage-dir", help="where uploaded bytes go (default: a temp dir)")
    parser.add_argument("--in-memory", action="store_true", help="keep uploaded bytes in memory")
    args = parser.parse_args(argv)
    if args.storage_dir and not args.in_memory:
        # Uploaded bytes are written there file by file: a missing folder would fail the first upload.
        Path(args.storage_dir).mkdir(parents=True, exist_ok=True)

    emu = Emulator(args.host, args.port, storage_dir=args.storage_dir, in_memory=args.in_memory)
    emu.start()
    try:
        user = emu.add_user(args.user_name, args.user_email, quota_total=int(args.quota_gib * GiB))
        app = emu.register_app(
            client_id=args.client_id,
            client_secret=args.client_secret,
            redirect_uris=args.redirect_uri,
            audience=args.audience,
            name=args.app_name,
        )
        lines = [
            f"Graph + identity emulator at {emu.base_url}",
            f"CA certificate: {emu.ca_pem_path}",
            "",
            "Environment for the site and its workers:",
            *(f"  export {k}={v}" for k, v in emu.env().items()),
            "",
            f"App '{app.name}' ({app.audience}):",
            f"  client id:     {app.client_id}",
            f"  secret value:  {app.client_secret}",
            f"  secret id:     {app.secret_id}   (not the secret: pasting it gives AADSTS7000215)",
            f"  redirect URIs: {', '.join(app.redirect_uris) or '(none: authorize will refuse every redirect)'}",
            f"  authority:     {emu.base_url}/{app.audience}",
            f"Signs in as {user.display_name} <{user.email}>, drive {user.drive.id}.",
            "",
            "Ctrl-C stops it.",
        ]
        print("\n".join(lines), flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
