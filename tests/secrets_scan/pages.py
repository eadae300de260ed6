"""The page sink: every response the site renders in this process and every admin or OAuth page
a web process started by the tests sends to their `requests` calls (whose credentials are
learnt on the way), and what the by-design displays of a secret may show."""

from tests.secrets_scan.scanner import current
from tests.secrets_scan.sources import _wrap, learn_sent

CALLBACK_PATH = "/api/oauth/onedrive/callback"

# Paths only the site serves: what a web process the tests started answers there is a page.
SITE_ONLY_PATHS = ("/admin/", "/api/oauth/")


class PageScan:
    """Every response the site renders in this process; the middleware comes first, so it sees
    the page as sent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        learn_sent(current(), "?" + request.META.get("QUERY_STRING", ""), request.headers)
        response = self.get_response(request)
        if getattr(response, "streaming", False):
            return response  # a served file's bytes
        allow = None
        if request.path == CALLBACK_PATH:
            allow = one_refresh_token
        new_token = getattr(request, "_new_api_token", None)
        if new_token:
            allow = only_besides({new_token})
        sink = "admin page" if request.path.startswith("/admin/") else "page"
        where = f"{request.method} {request.path} ({response.status_code})"
        text = response.get("Location", "") + "\n" + response.content.decode(errors="replace")
        current().write(sink, where, text, allow)
        return response


def one_refresh_token(found, scanner):
    """The callback page shows the refresh token it just received, once: one, and of that kind."""
    refresh = {s for s in found if scanner.kinds[s] == "refresh token"}
    return found - refresh if len(refresh) == 1 else found


def only_besides(allowed):
    return lambda found, scanner: found - allowed


def install_page_hook() -> None:
    from django.conf import settings

    name = f"{__name__}.PageScan"
    if name not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [name, *settings.MIDDLEWARE]


def install_sent_hook() -> None:
    from urllib.parse import urlsplit

    import requests

    def send(original):
        def wrapped(self, request, **kwargs):
            learn_sent(current(), request.url, request.headers, request.body)
            response = original(self, request, **kwargs)
            path = urlsplit(request.url).path
            # Pages of the web processes the tests start (only the site has these paths).
            if path.startswith(SITE_ONLY_PATHS) and not kwargs.get("stream"):
                allow = one_refresh_token if path == CALLBACK_PATH else None
                sink = "admin page" if path.startswith("/admin/") else "page"
                where = f"{request.method} {path} ({response.status_code}, from a web process)"
                text = response.headers.get("Location", "") + "\n" + response.text
                current().write(sink, where, text, allow)
            return response

        return wrapped

    _wrap(requests.Session, "send", send)
