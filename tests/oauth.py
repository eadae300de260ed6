"""Steps of Get Token as a browser takes them, for tests that use Django's test client."""

from urllib.parse import urlsplit

CALLBACK = "/api/oauth/onedrive/callback"


def start_get_token(client, app, channel=None, host="testserver", **overrides):
    """Press Get Token on the channel form: POST its fields to the start view."""
    data = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "tenant_id": "consumers",
        "cloud": "global",
        "channel_id": channel.pk if channel else "",
    }
    data.update(overrides)
    return client.post("/api/oauth/onedrive/start", data, HTTP_HOST=host)


def consent(emulator, authorize_url, accept=True):
    """Answer the emulator's consent page; returns where it sends the browser back."""
    return emulator.consent(authorize_url, accept=accept)


def callback_path(location):
    """The site-relative part of the redirect back to the callback."""
    parts = urlsplit(location)
    assert parts.path == CALLBACK, location
    return f"{parts.path}?{parts.query}"
