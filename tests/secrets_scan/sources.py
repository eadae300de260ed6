"""Where the secrets come from: the site's encryption, tokens and codes as made, the test
servers' credentials, every Graph emulator, and credentials seen travelling."""

import base64
import weakref

from tests.secrets_scan.scanner import GENERIC, Scanner, current

# What an encrypted field holds, by the field's name.
FIELD_KINDS = {
    "client_secret": "client secret",
    "refresh_token": "refresh token",
    "access_token": "access token",
    "secret_access_key": "S3 secret",
    "password": "WebDAV secret",
    "upload_session_url": "upload session URL",
}

# Every Graph emulator made in this process: the session's, and those a test makes of its own.
EMULATORS = weakref.WeakSet()


def harvest(scanner: Scanner) -> None:
    """What the Graph emulators have issued."""
    for emulator in list(EMULATORS):
        harvest_emulator(scanner, emulator)


def harvest_emulator(scanner: Scanner, emulator) -> None:
    state = emulator._state
    with state.lock:
        apps = [app.client_secret for app in state.apps.values()]
        grants, tokens, codes = list(state.grants), list(state.access_tokens), list(state.codes)
    for value in apps:
        scanner.add("client secret", value)
    for value in grants:
        scanner.add("refresh token", value)
    for value in tokens:
        scanner.add("access token", value)
    for value in codes:
        scanner.add("OAuth code", value)


def _wrap(owner, name, make):
    original = getattr(owner, name)
    setattr(owner, name, make(original))


def install_secret_hooks() -> None:
    from channels import crypto
    from channels.fields import Ciphertext, EncryptedTextField
    from tests import hosts, s3server, webdavserver
    from tests.emulator.emulator import Emulator
    from tests.emulator.state import UploadSession
    from uploads.models import ApiToken, UploadCode

    def prep(original):
        def get_prep_value(self, value):
            if value and not isinstance(value, Ciphertext):
                current().add(FIELD_KINDS.get(self.name, f"{self.name} (encrypted field)"), str(value))
            return original(self, value)

        return get_prep_value

    def encrypt(original):
        def wrapped(plaintext):
            current().add(GENERIC, plaintext)
            return original(plaintext)

        return wrapped

    def issue(original):
        def wrapped(self):
            token = original(self)
            current().add("API token", token)
            return token

        return wrapped

    def set_code(original):
        def wrapped(self, code):
            current().add("auth code", code)
            return original(self, code)

        return wrapped

    def reset(original):
        def wrapped(self):
            harvest_emulator(current(), self)  # what this test was issued, before it is forgotten
            return original(self)

        return wrapped

    def server(kind, *fields):
        def make(original):
            def init(self, *args, **kwargs):
                original(self, *args, **kwargs)
                for field in fields:
                    current().add(kind, getattr(self, field))

            return init

        return make

    def made(original):
        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            EMULATORS.add(self)

        return init

    _wrap(EncryptedTextField, "get_prep_value", prep)
    _wrap(crypto, "encrypt", encrypt)
    _wrap(ApiToken, "issue", issue)
    _wrap(UploadCode, "set_code", set_code)
    _wrap(Emulator, "__init__", made)
    _wrap(Emulator, "reset", reset)
    # An upload session's URL is pre-authenticated: its id is what makes it a credential.
    _wrap(UploadSession, "__init__", server("upload session URL", "id"))
    _wrap(s3server.S3Server, "__init__", server("S3 secret", "secret_access_key", "reader_secret"))
    _wrap(webdavserver.DAVServer, "__init__", server("WebDAV secret", "password"))
    current().add("S3 secret", s3server.SECRET_ACCESS_KEY)
    current().add("S3 secret", hosts.S3.secret_key)
    current().add("WebDAV secret", webdavserver.PASSWORD)


# Credentials as they travel: query and form fields, by name (lower case), and their kind.
SENT_FIELDS = {
    "authcode": "auth code",
    "code": "OAuth code",
    "client_secret": "client secret",
    "refresh_token": "refresh token",
    "access_token": "access token",
    "password": "WebDAV secret",
}


def learn_sent(scanner: Scanner, url: str, headers, body=None) -> None:
    """The credentials in a request: secrets made where no hook sees them (a subprocess that set
    an auth code, a test's own) are known once they are sent."""
    from urllib.parse import parse_qsl, urlsplit

    fields = parse_qsl(urlsplit(url).query)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if isinstance(body, str) and "=" in body and "\n" not in body[:2000]:
        fields += parse_qsl(body[:100_000])
    for name, value in fields:
        kind = SENT_FIELDS.get(name.lower())
        if kind:
            scanner.add(kind, value)
    for name, value in (headers or {}).items():
        name = name.lower()
        if name == "authcode":
            scanner.add("auth code", value)
        elif name == "authorization" and value.lower().startswith("bearer "):
            scanner.add("bearer token", value[7:].strip())
        elif name == "authorization" and value.lower().startswith("basic "):
            try:
                scanner.add("WebDAV secret", base64.b64decode(value[6:]).decode().partition(":")[2])
            except ValueError:
                pass
