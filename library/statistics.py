"""The library's figures for staff, each one GROUP BY in the database.

Files and bytes count the live files (not deleted, not still arriving), as the management API's
quota does; uploads per day and per IP count every upload made, deleted ones too, since they are
what people sent. The chart of uploads per day is drawn here as SVG geometry: no script needed.
"""

import datetime
import math
from dataclasses import dataclass

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from library import folders
from uploads.models import LIVE, StoredFile

DAYS = 90
TOP = 20
ZERO_MARK = 2  # the height a day without uploads is drawn at, so that it shows as a day


def _grouped(files, key, label=None):
    rows = files.order_by().values(key).annotate(files=Count("pk"), bytes=Sum("size"))
    return [
        {
            "name": row[key] if label is None else label(row[key]),
            "files": row["files"],
            "bytes": row["bytes"] or 0,
        }
        for row in rows.order_by("-files", key)
    ]


def per_channel() -> list[dict]:
    return _grouped(StoredFile.objects.filter(LIVE), "channel__name")


def per_category() -> list[dict]:
    return _grouped(StoredFile.objects.filter(LIVE), "category", lambda c: c or "unknown")


def top_folders(limit=TOP) -> list[dict]:
    """The folders with the most files directly in them, with the files of their subfolders beside:
    one GROUP BY folder, then the totals summed here over the distinct folders (not the files)."""
    rows = _grouped(StoredFile.objects.filter(LIVE), "folder")
    tree = folders.tree({row["name"]: row["files"] for row in rows})
    for row in rows:
        row["with_subfolders"] = folders.find(tree, row["name"]).total
    return rows[:limit]


def top_ips(limit=TOP) -> list[dict]:
    return _grouped(StoredFile.objects.exclude(uploader_ip=None), "uploader_ip")[:limit]


def uploads_per_day(days=DAYS, today=None) -> list[tuple[datetime.date, int]]:
    """[(day, uploads)] for the last `days` days up to today (the site's time zone), zeros included."""
    today = today or timezone.localdate()
    first = today - datetime.timedelta(days=days - 1)
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
    end = timezone.make_aware(
        datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time.min)
    )
    rows = (
        StoredFile.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    counts = dict(rows)
    return [
        (first + datetime.timedelta(days=i), counts.get(first + datetime.timedelta(days=i), 0))
        for i in range(days)
    ]


@dataclass
class Bar:
    day: datetime.date
    count: int
    x: float
    y: float
    width: float
    height: float


def _step(top: int) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving at most five gridlines up to `top`."""
    if top <= 5:
        return 1
    power = 10 ** int(math.log10(top / 5))
    for factor in (1, 2, 5, 10):
        if top / (factor * power) <= 5:
            return factor * power
    return 10 * power


def chart(series, width=900, height=240, left=44, bottom=28, top=10, right=8) -> dict:
    """The bars, gridlines and labels of an SVG bar chart of (day, count), in the SVG's own units.
    A day without uploads keeps its place, drawn as a thin mark on the axis."""
    most = max((n for _, n in series), default=0)
    step = _step(most)
    scale_top = max(step, math.ceil(most / step) * step)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(series), 1)
    gap = min(2.0, slot / 4)
    base = top + plot_h
    bars = []
    for i, (day, n) in enumerate(series):
        h = plot_h * n / scale_top if n else ZERO_MARK
        x = left + i * slot + gap / 2
        bars.append(Bar(day, n, round(x, 2), round(base - h, 2), round(slot - gap, 2), round(h, 2)))
    grid = [{"value": v, "y": round(base - plot_h * v / scale_top, 2)} for v in range(0, scale_top + 1, step)]
    # A label under the first day of each month and under the first day shown.
    labels = [
        {"x": round(bar.x + bar.width / 2, 2), "text": f"{bar.day.day} {bar.day:%b}"}
        for i, bar in enumerate(bars)
        if bar.day.day == 1 or i == 0
    ]
    if len(labels) > 1 and labels[1]["x"] - labels[0]["x"] < 40:  # the first would overlap the next
        labels.pop(0)
    return {
        "width": width,
        "height": height,
        "left": left,
        "y_label_x": left - 6,
        "right": width - right,
        "base": base,
        "label_y": base + 18,
        "bars": bars,
        "grid": grid,
        "labels": labels,
        "most": most,
        "total": sum(n for _, n in series),
        "first": series[0][0] if series else None,
        "last": series[-1][0] if series else None,
    }


def figures(today=None) -> dict:
    channels = per_channel()
    return {
        # From the channels' few rows, not one more pass over the files.
        "totals": {"files": sum(c["files"] for c in channels), "bytes": sum(c["bytes"] for c in channels)},
        "channels": channels,
        "categories": per_category(),
        "folders": top_folders(),
        "ips": top_ips(),
        "chart": chart(uploads_per_day(today=today)),
        "days": DAYS,
        "top": TOP,
    }
