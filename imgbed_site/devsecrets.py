"""Keys for a laptop run, generated once into an ignored file.

Only used when DEBUG is on and the environment gives no keys, so a fresh
clone runs without set-up while a server with DEBUG off must bring its own.
"""

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        values = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "IMGBED_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
        # O_EXCL: two processes starting together must not write different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write("# Generated for a laptop run. Do not use these keys on a server.\n")
                fh.writelines(f"{k}={v}\n" for k, v in values.items())
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
