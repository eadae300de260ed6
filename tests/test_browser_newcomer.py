"""A newcomer's first ten minutes: bin/run on a fresh data directory, sign in with the password it
prints, drop a picture on the home page, open its link and see the picture. No cloud account:
the local channel bin/run creates stores it."""

import re
import time
from pathlib import Path

import pytest

from tests.browser import drop
from tests.files import png
from tests.processes import Spawned, clean_env, free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_site(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    env = clean_env(IMGBED_DATA_DIR=data, PORT=port, PYTHONUNBUFFERED=1)
    run = Spawned([str(ROOT / "bin" / "run")], env, ROOT, tmp_path / "run.log")
    try:
        banner = re.compile(r"imgbed is running at (\S+)/\n.*password: (\S+)", re.S)
        match = run.wait_until(lambda: banner.search(run.output()), 180, "bin/run's banner")
        run.wait_until(lambda: " ready." in run.output(), 60, "the Celery worker to be ready")
        yield match.group(1), match.group(2), data
    finally:
        run.stop()


def test_first_upload_is_stored_locally_and_its_link_shows_the_picture(page, fresh_site):
    site_url, password, data = fresh_site
    page.goto(site_url + "/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    picture = png(20_000)
    page.goto(site_url + "/")
    drop(page, "#drop-zone", [("first picture.png", "image/png", picture)])
    page.wait_for_selector("#results .result.done, #results .result.failed")
    assert page.locator("#results .result.failed").count() == 0, page.inner_text("#results")
    link = page.locator("#results .result [data-format=url] input").input_value()
    assert link.startswith(site_url + "/file/")

    response = page.goto(link)
    assert response.status == 200 and response.body() == picture
    page.wait_for_function("document.images.length === 1 && document.images[0].complete")
    assert page.evaluate("document.images[0].naturalWidth") == 1  # the browser decoded and shows it

    # The worker stores it on the local channel under the data directory (the link served from
    # staging until then).
    def stored():
        return [
            p.read_bytes() for p in (data / "files").rglob("*") if p.is_file() and not p.name.startswith(".")
        ]

    deadline = time.monotonic() + 60
    while not stored() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert stored() == [picture]
