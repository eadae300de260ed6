"""GET /random: ImgBed's parameters over a known set of files, what it never hands out, and a
draw that is uniform (a chi-square test over 1,000 draws)."""

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from library import random_pick
from tests.channels import local_channel
from tests.files import png
from tests.manage_support import add_file, content, upload_and_store, upload_code
from tests.sitesettings import configure, forget_site_settings  # noqa: F401
from uploads.models import StoredFile

pytestmark = pytest.mark.django_db

BLOCK, WHITE = StoredFile.ListType.BLOCK, StoredFile.ListType.WHITE
PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
# Draws per test of "which files can come out": a file with a chance of 1/3 or more is missing
# from 120 draws with probability below 1e-20.
DRAWS = 120


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


@pytest.fixture
def enabled(db):
    return configure(random_enabled=True)


def draw(client, query="", **headers):
    response = client.get(f"/random?{query}", **headers)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return response.json().get("url")


def drawn(client, query="", times=DRAWS, **headers) -> set:
    return {draw(client, query, **headers) for _ in range(times)}


def links(*public_ids) -> set:
    return {f"/file/{public_id}" for public_id in public_ids}


@pytest.fixture
def shapes(disk, enabled):
    """One file of each shape, those on the borders, one without dimensions, and a video."""
    add_file(disk, "wide.png", width=1200, height=800)  # 1.5
    add_file(disk, "tall.jpg", content_type="image/jpeg", width=600, height=900)  # 0.67
    add_file(disk, "square.png", width=1000, height=1000)
    add_file(disk, "just-square-wide.png", width=1100, height=1000)  # exactly 1.1: still square
    add_file(disk, "just-square-tall.png", width=900, height=1000)  # exactly 0.9: still square
    add_file(disk, "just-landscape.png", width=1101, height=1000)
    add_file(disk, "just-portrait.png", width=899, height=1000)
    add_file(disk, "unmeasured.webp", content_type="image/webp")
    add_file(disk, "clip.mp4", content_type="video/mp4", width=1920, height=1080)


def test_off_unless_staff_enable_it(client, disk):
    add_file(disk, "wide.png", width=1200, height=800)
    response = client.get("/random")
    assert response.status_code == 403
    assert "Site settings" in response.json()["error"]
    assert "Random is disabled" in response.json()["error"]


def test_by_default_any_image_whatever_its_shape(client, shapes):
    assert drawn(client) == links(
        "wide.png",
        "tall.jpg",
        "square.png",
        "just-square-wide.png",
        "just-square-tall.png",
        "just-landscape.png",
        "just-portrait.png",
        "unmeasured.webp",
    )


def test_orientation_by_width_over_height_and_files_without_dimensions_left_out(client, shapes):
    assert drawn(client, "orientation=landscape") == links("wide.png", "just-landscape.png")
    assert drawn(client, "orientation=portrait") == links("tall.jpg", "just-portrait.png")
    assert drawn(client, "orientation=square") == links(
        "square.png", "just-square-wide.png", "just-square-tall.png"
    )
    assert drawn(client, "orientation=landscape&content=video") == links("clip.mp4")


def test_auto_orientation_reads_the_viewport_then_the_device(client, shapes):
    phone = {"HTTP_SEC_CH_VIEWPORT_WIDTH": "390", "HTTP_SEC_CH_VIEWPORT_HEIGHT": "844"}
    assert drawn(client, "orientation=auto", **phone) == links("tall.jpg", "just-portrait.png")
    wide_window = {"HTTP_SEC_CH_VIEWPORT_WIDTH": "1920", "HTTP_SEC_CH_VIEWPORT_HEIGHT": "1080"}
    # The viewport wins over a phone's user agent (a phone held sideways).
    assert drawn(client, "orientation=auto", HTTP_USER_AGENT=PHONE, **wide_window) == links(
        "wide.png", "just-landscape.png"
    )
    assert drawn(client, "orientation=auto", HTTP_USER_AGENT=PHONE) == links("tall.jpg", "just-portrait.png")
    assert drawn(client, "orientation=auto", HTTP_USER_AGENT=DESKTOP) == links(
        "wide.png", "just-landscape.png"
    )
    assert drawn(client, "orientation=auto", HTTP_SEC_CH_UA_MOBILE="?1") == links(
        "tall.jpg", "just-portrait.png"
    )
    assert drawn(client, "orientation=auto") == links("wide.png", "just-landscape.png")  # no hint at all
    unreadable = {"HTTP_SEC_CH_VIEWPORT_WIDTH": "inf", "HTTP_SEC_CH_VIEWPORT_HEIGHT": "844"}
    assert drawn(client, "orientation=auto", HTTP_USER_AGENT=PHONE, **unreadable) == links(
        "tall.jpg", "just-portrait.png"
    )


def test_the_answer_asks_browsers_for_the_viewport(client, shapes):
    response = client.get("/random?orientation=auto")
    assert "Sec-CH-Viewport-Width" in response["Accept-CH"]
    assert "Sec-CH-Viewport-Height" in response["Accept-CH"]


def test_content_is_matched_in_the_mime_type(client, disk, enabled):
    add_file(disk, "a.png")
    add_file(disk, "b.jpg", content_type="image/jpeg")
    add_file(disk, "c.mp4", content_type="video/mp4")
    add_file(disk, "d.mp3", content_type="audio/mpeg")
    add_file(disk, "e.pdf", content_type="application/pdf")
    assert drawn(client) == links("a.png", "b.jpg")
    assert drawn(client, "content=video") == links("c.mp4")
    assert drawn(client, "content=video,audio") == links("c.mp4", "d.mp3")
    assert drawn(client, "content=png,pdf") == links("a.png", "e.pdf")
    assert drawn(client, "content=IMAGE/JPEG") == links("b.jpg")


def test_dir_takes_its_subfolders_and_only_them(client, disk, enabled):
    add_file(disk, "top.png")
    add_file(disk, "cats/a.png")
    add_file(disk, "cats/kittens/b.png")
    add_file(disk, "catsuit/c.png")  # shares the prefix, not the folder
    assert drawn(client, "dir=cats") == links("cats/a.png", "cats/kittens/b.png")
    assert drawn(client, "dir=/cats/kittens/") == links("cats/kittens/b.png")
    assert drawn(client) == links("top.png", "cats/a.png", "cats/kittens/b.png", "catsuit/c.png")


def test_only_the_folders_staff_allow(client, disk, enabled):
    configure(random_enabled=True, random_folders="cats\nbirds/parrots")
    add_file(disk, "top.png")
    add_file(disk, "cats/a.png")
    add_file(disk, "cats/kittens/b.png")
    add_file(disk, "birds/crow.png")
    add_file(disk, "birds/parrots/kea.png")
    # No dir: any of the allowed folders, nothing else.
    assert drawn(client) == links("cats/a.png", "cats/kittens/b.png", "birds/parrots/kea.png")
    assert drawn(client, "dir=cats/kittens") == links("cats/kittens/b.png")
    # ".." is no way out: as in ImgBed it becomes "_", a folder under cats that holds nothing.
    assert client.get("/random?dir=cats/../birds").json() == {}
    for outside in ("birds", "dogs", "/", "birds/parrots-extra"):
        response = client.get(f"/random?dir={outside}")
        assert response.status_code == 403, outside
        error = response.json()["error"]
        assert "Directory not allowed" in error
        assert "cats, birds/parrots" in error


def test_a_blocked_file_is_never_drawn(client, disk, enabled):
    add_file(disk, "a.png")
    add_file(disk, "b.png", list_type=WHITE)
    add_file(disk, "blocked.png", list_type=BLOCK)
    assert drawn(client) == links("a.png", "b.png")
    StoredFile.objects.exclude(list_type=BLOCK).update(list_type=BLOCK)
    assert client.get("/random").json() == {}


def test_whitelist_mode_draws_only_allowed_files(client, disk, enabled):
    configure(random_enabled=True, whitelist_mode=True)
    add_file(disk, "a.png")
    add_file(disk, "approved.png", list_type=WHITE)
    add_file(disk, "blocked.png", list_type=BLOCK)
    assert drawn(client) == links("approved.png")


def test_deleted_and_arriving_files_are_never_drawn(client, disk, enabled):
    from django.utils import timezone

    add_file(disk, "kept.png")
    add_file(disk, "deleted.png", status=StoredFile.Status.DELETED, deleted_at=timezone.now())
    add_file(disk, "arriving.png", receiving=True)
    assert drawn(client) == links("kept.png")


def test_type_and_form(client, disk, enabled, site_url):
    add_file(disk, "a b/ünï.png")
    assert client.get("/random").json() == {"url": "/file/a%20b/%C3%BCn%C3%AF.png"}
    assert client.get("/random?type=path").json() == {"url": "/file/a%20b/%C3%BCn%C3%AF.png"}
    assert client.get("/random?type=url").json() == {"url": f"{site_url}/file/a%20b/%C3%BCn%C3%AF.png"}
    text = client.get("/random?type=url&form=text")
    assert text.status_code == 200
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert text.content.decode() == f"{site_url}/file/a%20b/%C3%BCn%C3%AF.png"
    assert text["Cache-Control"] == "no-store"
    assert client.get("/random?form=text").content.decode() == "/file/a%20b/%C3%BCn%C3%AF.png"
    assert client.get("/random?form=json").json() == {"url": "/file/a%20b/%C3%BCn%C3%AF.png"}


def test_type_img_answers_with_the_stored_files_bytes(client, tmp_path, enabled):
    local_channel(tmp_path / "files", name="Disk", health="connected")
    upload_code()
    data = png(3000, width=40, height=30)
    stored = upload_and_store(client, data, name="sunset.png", folder="holiday")
    assert stored.width == 40 and stored.height == 30

    response = client.get("/random?type=img&dir=holiday&orientation=landscape")
    assert response.status_code == 200
    assert content(response) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Location"] == f"/file/{stored.public_id}"
    assert response["Cache-Control"] == "no-store"

    # Blocked since: /random has nothing to give.
    StoredFile.objects.filter(pk=stored.pk).update(list_type=BLOCK)
    response = client.get("/random?type=img&dir=holiday")
    assert response.status_code == 404
    assert "No file matches" in response.json()["error"]


def test_no_match_is_imgbeds_empty_object_and_a_404_in_words_for_text(client, disk, enabled):
    add_file(disk, "a.png", width=10, height=10)
    response = client.get("/random?orientation=portrait")
    assert response.status_code == 200
    assert response.json() == {}
    assert response["Cache-Control"] == "no-store"
    text = client.get("/random?orientation=portrait&form=text")
    assert text.status_code == 404
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert "No file matches" in text.content.decode()


@pytest.mark.parametrize(
    "query, words",
    [
        ("orientation=diagonal", "orientation must be one of landscape, portrait, square, auto"),
        ("type=gif", "type must be one of path, url, img"),
        ("form=xml", "form must be one of json, text"),
        ("content=%3Cscript%3E", "cannot be part of a MIME type"),
    ],
)
def test_bad_parameters_are_a_400_in_words(client, disk, enabled, query, words):
    add_file(disk, "a.png")
    response = client.get(f"/random?{query}")
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert response["Cache-Control"] == "no-store"


def test_only_get_and_head(client, enabled):
    response = client.post("/random")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert "GET and HEAD" in response.json()["error"]


def test_a_draw_reads_no_more_than_one_file(client, disk, enabled):
    for n in range(300):
        add_file(disk, f"many/{n}.png", width=100 + n, height=100)  # 11 of them square
    with CaptureQueriesContext(connection) as seen:
        assert draw(client, "orientation=square").startswith("/file/many/")
    reads = [q["sql"] for q in seen.captured_queries if "uploads_storedfile" in q["sql"]]
    assert 2 <= len(reads) <= 5, reads
    for sql in reads:
        # The id range, the rounds of probes by id, or a count and one row at an offset: never the lot.
        assert "MIN(" in sql or " IN (" in sql or "COUNT(" in sql or "LIMIT 1" in sql, sql


def chi_square_bound(degrees: int, p: float) -> float:
    """The x with P(X > x) = p for chi-square with an even number of degrees of freedom, where
    P(X > x) = exp(-x/2) * sum over i < degrees/2 of (x/2)^i / i!."""

    def tail(x):
        return math.exp(-x / 2) * sum((x / 2) ** i / math.factorial(i) for i in range(degrees // 2))

    low, high = 0.0, 1000.0
    while high - low > 1e-9:
        middle = (low + high) / 2
        low, high = (middle, high) if tail(middle) > p else (low, middle)
    return high


@pytest.mark.parametrize(
    "probes", [random_pick.PROBES, (1, 2), ()], ids=["probing-ids", "few-probes-then-counting", "counting"]
)
def test_draws_are_uniform(client, disk, enabled, monkeypatch, probes):
    """1,000 draws over 9 files, among others it must never draw. Both ways of drawing (the
    probes by id, and the count with an offset that follows when they miss), and the two
    mixed, are uniform: a correct draw fails this with probability below 1e-6."""
    monkeypatch.setattr(random_pick, "PROBES", probes)
    files = []
    decoys = [
        dict(width=1600, height=900, list_type=BLOCK),
        dict(width=900, height=1600),
        dict(width=1600, height=900, folder_name="elsewhere"),
    ]
    for n in range(9):
        files.append(add_file(disk, f"set/{n}.png", width=1600, height=900).public_id)
        # Gaps of unequal sizes in the ids between them, of files that do not match: a draw
        # that took "the next file after a random id" would favour the files after long gaps.
        for k in range(n):
            decoy = dict(decoys[k % 3])
            folder = decoy.pop("folder_name", "set")
            add_file(disk, f"{folder}/decoy-{n}-{k}.png", **decoy)
    counts = dict.fromkeys(links(*files), 0)
    for _ in range(1000):
        url = draw(client, "dir=set&orientation=landscape")
        assert url in counts, url
        counts[url] += 1
    assert min(counts.values()) > 0  # every file was drawn
    expected = 1000 / len(files)
    statistic = sum((seen - expected) ** 2 / expected for seen in counts.values())
    assert statistic < chi_square_bound(len(files) - 1, 1e-6), counts
