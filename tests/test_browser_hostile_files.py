"""Files built to run in a browser, uploaded and then used the way an attacker would:
as a script on another site, opened directly, framed. Chromium is the judge."""

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.models import Channel
from tests.files import SVG, png
from tests.images import gif
from tests.test_hostile_content import _chunk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A GIF that is also JavaScript: `GIF89a/* ...image... */=1;window.pwned=1;` (the image ends at its
# trailer, the script goes on after it).
GIF_JS = b"GIF89a/*\x01\x00" + gif(1, 1)[10:] + b"*/=1;window.pwned=1;"
# A PNG whose text chunk is a page with a script.
PNG_HTML = (
    png()[:-12]
    + _chunk(b"tEXt", b"x\x00<html><body><script>window.pwned=1</script></body></html>")
    + png()[-12:]
)


@pytest.fixture
def site_url(settings, live_server, channel):
    settings.SITE_URL = live_server.url
    settings.IMGBED_PUBLIC_UPLOADS = True
    settings.IMGBED_ALLOWED_TYPES = ["image", "image/svg+xml"]
    channel.health = Channel.Health.CONNECTED
    channel.save()
    return settings.SITE_URL


def upload(client, data, name):
    response = client.post("/upload?uploadNameType=origin", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200, response.content
    return json.loads(response.content)[0]["src"]


def test_the_gif_is_really_a_script(page):
    """What the next test relies on: these bytes run when a browser is made to take them as script."""
    page.goto("about:blank")
    page.evaluate("(b64) => { eval(atob(b64)); }", base64.b64encode(GIF_JS).decode())
    assert page.evaluate("window.pwned") == 1


def test_a_gif_script_polyglot_does_not_run_from_another_site(page, site_url, client):
    src = upload(client, GIF_JS, "cat.gif")
    page.goto("about:blank")
    page.set_content(f'<script src="{site_url}{src}"></script><p>attacker</p>')
    page.wait_for_load_state("load")
    assert page.evaluate("window.pwned") is None


def test_a_png_page_polyglot_opened_directly_is_an_image(page, site_url, client):
    src = upload(client, PNG_HTML, "cat.png")
    response = page.goto(site_url + src)
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.contentType") == "image/png"


def test_an_svg_with_script_opened_directly_is_a_download(page, site_url, client):
    src = upload(client, SVG, "logo.svg")
    with page.expect_download() as download:
        try:
            page.goto(site_url + src)
        except Exception as exc:  # Chromium ends a navigation that turns into a download
            assert "ERR_ABORTED" in str(exc) or "Download is starting" in str(exc), exc
    assert download.value.suggested_filename == "logo.svg"


def test_an_svg_with_script_framed_does_not_run(page, site_url, client):
    src = upload(client, SVG.replace(b"alert(1)", b"parent.postMessage('ran', '*')"), "logo.svg")
    page.goto(site_url + "/")
    page.evaluate("window.got = []; addEventListener('message', (e) => window.got.push(e.data))")
    page.evaluate(
        f"(() => {{ const f = document.createElement('iframe'); f.src = '{src}'; document.body.append(f); }})()"
    )
    page.evaluate(
        "new Promise((ok) => { const f = document.querySelector('iframe'); f.onload = ok; setTimeout(ok, 3000); })"
    )
    assert page.evaluate("window.got") == []
