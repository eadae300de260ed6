"""The statistics page against a known set of rows: files and bytes per channel, type and folder,
uploads per day as SVG bars (empty days too), top uploading IPs; staff only."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.admin_pages import parse
from tests.channels import local_channel
from tests.manage_support import add_file
from uploads import lifecycle

pytestmark = pytest.mark.django_db

PAGE = "/admin/uploads/storedfile/statistics/"


def at_noon(days_ago):
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


@pytest.fixture
def rows(tmp_path):
    disk = local_channel(tmp_path / "disk", name="Disk", health="connected")
    other = local_channel(tmp_path / "other", name="Other", health="connected")
    add_file(disk, "a/1.png", size=100, uploader_ip="10.0.0.1", created_at=at_noon(0))
    add_file(disk, "a/2.png", size=200, uploader_ip="10.0.0.1", created_at=at_noon(1))
    add_file(
        disk, "a/b/3.mp4", size=1000, content_type="video/mp4", uploader_ip="10.0.0.2", created_at=at_noon(1)
    )
    add_file(other, "top.txt", size=50, content_type="text/plain", created_at=at_noon(89))
    add_file(disk, "old.png", size=5, created_at=at_noon(90))  # before the chart's first day
    # Deleted: not among the files any more, but they were uploads.
    lifecycle.delete(add_file(other, "c/4.png", size=300, uploader_ip="10.0.0.2", created_at=at_noon(10)))
    lifecycle.delete(add_file(other, "c/5.png", size=7, uploader_ip="10.0.0.2", created_at=at_noon(0)))


def table(page, section):
    """[(first cell, exact figures...)] of one section's table: sizes read in bytes from their title."""
    found = []
    for tr in page.one("section", id=section).one("tbody").all("tr"):
        cells = [tr.one("th").text()] if list(tr.all("th")) else []
        for td in tr.all("td"):
            title = td.attrs.get("title", "")
            cells.append(int(title.removesuffix(" bytes")) if title.endswith(" bytes") else td.text())
        found.append(tuple(cells))
    return found


def test_the_figures_of_a_known_set_of_rows(staff_client, rows):
    response = staff_client.get(PAGE)
    assert response.status_code == 200
    page = parse(response)
    assert page.one("p", id="stats-totals").text() == "5 files, 1.3 KB, not counting deleted ones."
    assert table(page, "stats-channels") == [("Disk", "4", 1305), ("Other", "1", 50)]
    assert table(page, "stats-categories") == [("image", "3", 305), ("text", "1", 50), ("video", "1", 1000)]
    assert table(page, "stats-folders") == [
        ("Top level", "2", 55, "5"),
        ("a", "2", 300, "3"),
        ("a/b", "1", 1000, "1"),
    ]
    assert table(page, "stats-ips") == [("10.0.0.2", "3", 1307), ("10.0.0.1", "2", 300)]
    links = [a.attrs["href"] for a in page.one("section", id="stats-folders").all("a")]
    assert links == [
        "/admin/uploads/storedfile/?folder=/",
        "/admin/uploads/storedfile/?folder=a",
        "/admin/uploads/storedfile/?folder=a/b",
    ]


def bars(page):
    return [
        (
            rect.attrs["data-day"],
            int(rect.attrs["data-count"]),
            float(rect.attrs["height"]),
            "zero" in rect.classes,
        )
        for rect in page.one("svg", id="uploads-chart").all("rect", cls="bar")
    ]


def test_uploads_per_day_are_bars_for_each_of_the_last_90_days(staff_client, rows):
    page = parse(staff_client.get(PAGE))
    drawn = bars(page)
    today = timezone.localdate()
    days = [(today - datetime.timedelta(days=n)).isoformat() for n in range(89, -1, -1)]
    assert [d for d, *_ in drawn] == days
    counts = {d: n for d, n, *_ in drawn if n}
    assert counts == {days[-1]: 2, days[-2]: 2, days[-11]: 1, days[0]: 1}
    heights = {d: h for d, _, h, _ in drawn}
    assert heights[days[-1]] == heights[days[-2]] == 2 * heights[days[-11]] > 0
    # A day without uploads is there, drawn as a thin mark.
    empty = [(h, zero) for d, n, h, zero in drawn if n == 0]
    assert len(empty) == 86 and set(empty) == {(2.0, True)}
    # Axis labels: the counts up the side, and dates along the bottom.
    svg = page.one("svg", id="uploads-chart")
    assert [t.text() for t in svg.all("text", cls="y-label")] == ["0", "1", "2"]
    month_starts = [f"1 {d:%b}" for d in map(datetime.date.fromisoformat, days) if d.day == 1]
    x_labels = [t.text() for t in svg.all("text", cls="x-label")]
    assert len(month_starts) >= 2 and set(month_starts) <= set(x_labels)
    title = svg.one("rect", **{"data-day": days[-11]}).one("title").text()
    assert title.endswith(": 1 upload")


def test_a_day_is_the_site_s_day(staff_client, tmp_path, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    disk = local_channel(tmp_path, name="Disk", health="connected")
    today = timezone.localdate()
    # 23:30 UTC yesterday is already today in Tokyo (UTC+9).
    late = datetime.datetime.combine(
        today - datetime.timedelta(days=1), datetime.time(23, 30), tzinfo=datetime.UTC
    )
    if timezone.localtime(late).date() != today:
        late -= datetime.timedelta(days=1)  # before 08:30 in Tokyo: take the day before
    add_file(disk, "late.png", created_at=late)
    drawn = {d: n for d, n, *_ in bars(parse(staff_client.get(PAGE)))}
    assert drawn[timezone.localtime(late).date().isoformat()] == 1
    assert sum(drawn.values()) == 1


def test_the_page_costs_the_same_queries_however_many_rows(staff_client, tmp_path):
    disk = local_channel(tmp_path, name="Disk", health="connected")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(PAGE).status_code == 200
        return [q["sql"] for q in captured]

    add_file(disk, "a/1.png", uploader_ip="10.0.0.1")
    few = queries()
    for i in range(40):
        add_file(disk, f"f{i % 7}/{i}.png", uploader_ip=f"10.0.1.{i}", created_at=at_noon(i))
    many = queries()
    assert len(many) == len(few)
    assert sum("GROUP BY" in sql for sql in many) >= 5  # channel, type, folder, day, IP


def test_the_file_list_links_to_the_page(staff_client):
    page = parse(staff_client.get("/admin/uploads/storedfile/"))
    assert page.one("ul", cls="object-tools").one("a", href=PAGE).text() == "Statistics"


def test_only_staff_who_may_view_files_see_it(client, django_user_model, rows):
    anonymous = client.get(PAGE)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")

    django_user_model.objects.create_user("visitor", password="pw")
    client.login(username="visitor", password="pw")
    refused = client.get(PAGE)
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    assert b"10.0.0.1" not in refused.content

    staff = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(PAGE).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_storedfile"))
    assert client.get(PAGE).status_code == 200
