"""Credentials that travel in URLs and headers, masked before a line is logged.

Upload clients put the auth code in the query (`/upload?authCode=...`),
Microsoft sends the OAuth code and state back in the callback's query, and a
Referer can carry either; a redirect-mode channel's Location is a download
link that works for whoever holds it. The database keeps codes hashed; a log must not
keep them in plain text.
"""

import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"

# Query parameter names (compared in lower case) whose values are credentials.
SECRET_PARAMS = frozenset(
    {
        "authcode",
        "code",
        "state",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "password",
        # A redirect-mode channel's download links: S3 presigned URLs (signature v4 and v2) and
        # OneDrive's pre-authenticated downloadUrl. Anyone holding one may fetch the file.
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "signature",
        "awsaccesskeyid",
        "tempauth",
    }
)

# Headers (lower case) that carry credentials: API tokens, auth codes, the session and CSRF cookies.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "authcode", "cookie", "set-cookie", "x-csrftoken"}
)

# name=value after "?", "&" or "#". A value runs to the next "&", "#" or
# space, as the query parser reads it: a "?", ";" or quote inside a value
# belongs to it, so stopping there would leave the rest of a secret behind.
_PARAM = re.compile(r"(?<=[?&#])([^=&#?\s]+)=([^&#\s]*)")


def _names_secret(name: str) -> bool:
    return unquote_plus(name).lower() in SECRET_PARAMS


def _hides_secret(value: str) -> bool:
    """A value that is itself a URL or query with a secret in it (`?next=/upload%3FauthCode%3D...`)."""
    for _ in range(3):  # encoded once or twice over
        decoded = unquote_plus(value)
        if any(_names_secret(m.group(1)) for m in _PARAM.finditer("?" + decoded)):
            return True
        if decoded == value:
            return False
        value = decoded
    return False


def _mask(match: re.Match) -> str:
    name, value = match.group(1), match.group(2)
    if value and (_names_secret(name) or _hides_secret(value)):
        return f"{name}={REDACTED}"
    return match.group(0)


def redact_text(text: str) -> str:
    """`text` (a request line, a URL, a log message) with every secret query value masked."""
    if "=" not in text:
        return text
    return _PARAM.sub(_mask, text)


def redact_query(query: str) -> str:
    """A bare query string (`authCode=...&uploadFolder=a`), masked the same way."""
    return redact_text("?" + query)[1:]


class RedactSecrets(logging.Filter):
    """Masks secret query values in a record's message, e.g. runserver's request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: the handler reports it as usual
            return True
        redacted = redact_text(message)
        # Only a record that held a secret is rewritten; others keep their args for other handlers.
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
