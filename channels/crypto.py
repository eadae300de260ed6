"""Encryption of secrets at rest with Fernet keys from IMGBED_ENCRYPTION_KEYS.

The keys are their own setting, not derived from SECRET_KEY, so rotating the
session key never makes stored secrets unreadable (and the reverse).
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""

    def __init__(self, what="a stored secret"):
        super().__init__(
            f"Cannot decrypt {what} with the keys in IMGBED_ENCRYPTION_KEYS. "
            "The key it was encrypted with is missing: put that key back into "
            "IMGBED_ENCRYPTION_KEYS (after the newest one), or enter the secret again."
        )


@lru_cache(maxsize=4)
def _fernet(keys: tuple) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("IMGBED_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "IMGBED_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe "
            "base64-encoded bytes); generate one with: python manage.py generate_encryption_key"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.IMGBED_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str, what="a stored secret") -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(what) from None


def rotate(token: str, what="a stored secret") -> str:
    """Re-encrypt under the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(what) from None


def newest_key_encrypted(token: str) -> bool:
    try:
        Fernet(settings.IMGBED_ENCRYPTION_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True
