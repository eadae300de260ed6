"""Stands in for a person at the consent page: open the authorize URL, press
Accept (or Cancel), and hand back where the emulator sent the browser."""

import html
import re
from urllib.parse import urljoin

import requests

_FORM = re.compile(r'<form method="post" action="([^"]+)"')
_REQUEST = re.compile(r'name="request" value="([^"]+)"')
_ERROR_CODE = re.compile(r'id="error-code">AADSTS(\d+)<')


class SignInError(Exception):
    """The authorize endpoint showed an error page instead of asking for consent."""

    def __init__(self, status: int, code: int | None, page: str):
        super().__init__(
            f"sign-in page answered {status} with AADSTS{code}" if code else f"sign-in failed ({status})"
        )
        self.status = status
        self.code = code
        self.page = page


def sign_in(auth_uri: str, accept: bool = True, verify=True, session: requests.Session | None = None) -> str:
    """The URL the browser ends up at (the app's redirect URI with code or error)."""
    http = session or requests.Session()
    page = http.get(auth_uri, allow_redirects=False, verify=verify, timeout=10)
    if page.is_redirect:
        return page.headers["Location"]
    form, request_id = _FORM.search(page.text), _REQUEST.search(page.text)
    if page.status_code != 200 or not form or not request_id:
        code = _ERROR_CODE.search(page.text)
        raise SignInError(page.status_code, int(code.group(1)) if code else None, page.text)
    answer = http.post(
        urljoin(auth_uri, html.unescape(form.group(1))),
        data={"request": html.unescape(request_id.group(1)), "action": "accept" if accept else "cancel"},
        allow_redirects=False,
        verify=verify,
        timeout=10,
    )
    if answer.is_redirect:
        return answer.headers["Location"]
    code = _ERROR_CODE.search(answer.text)
    raise SignInError(answer.status_code, int(code.group(1)) if code else None, answer.text)
