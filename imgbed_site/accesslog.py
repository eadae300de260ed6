"""gunicorn's logger with credentials masked (the Procfile's --logger-class).

gunicorn writes the request line (with its query), the Referer and, in a
custom --access-logformat, any header or environ value; an error while
handling a request logs the URI too. Each of those can carry an upload auth
code, an OAuth code or state, or a token.
"""

import re

from gunicorn.glogging import Logger

from imgbed_site.redaction import REDACTED, SECRET_HEADERS, RedactSecrets, redact_query, redact_text

# Atoms that hold a bare query string (no "?" in front).
_QUERY_ATOMS = {"q", "{query_string}e"}
# Request headers are {name}i, response headers {name}o, and in the environ {http_name}e.
_HEADER_ATOM = re.compile(r"^\{(?:(.+)\}[io]|http_(.+)\}e)$")


def _secret_header(atom: str) -> bool:
    match = _HEADER_ATOM.match(atom)
    if not match:
        return False
    name = match.group(1) or match.group(2).replace("_", "-")
    return name in SECRET_HEADERS


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # setup() runs again on each configuration reload: one filter is enough.
        if not any(isinstance(f, RedactSecrets) for f in self.error_log.filters):
            self.error_log.addFilter(RedactSecrets())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if _secret_header(key):
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact_query(value) if key in _QUERY_ATOMS else redact_text(value)
        return atoms
