"""What channel pages show, whatever the kind: health, the space bar, the quota chart."""

from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from channels.models import Channel

HEALTH_COLOURS = {
    Channel.Health.CONNECTED: "#1a7f37",
    Channel.Health.NOT_CONNECTED: "#57606a",
    Channel.Health.DEGRADED: "#bf8700",
    Channel.Health.NEEDS_REAUTH: "#cf222e",
    Channel.Health.ERROR: "#cf222e",
}


def quota_bar(channel):
    if channel.quota_total is None or channel.quota_used is None:
        return format_html('<span class="quota-unknown">{}</span>', "unknown")
    total = max(channel.quota_total, 1)
    percent = min(100, round(100 * channel.quota_used / total))
    return format_html(
        '<div class="quota" title="{}% used, state {}">'
        '<progress max="100" value="{}" style="width:9em"></progress> '
        '<span class="quota-figures">{} / {}</span></div>',
        percent,
        channel.quota_state or "unknown",
        percent,
        filesizeformat(channel.quota_used),
        filesizeformat(channel.quota_total),
    )


def quota_chart(samples, width=480, height=120):
    """Used space over time as an inline SVG line, scaled to the drive's size."""
    if len(samples) < 2:
        return "Not enough readings yet: quota is read every few minutes."
    start, end = samples[0].taken_at.timestamp(), samples[-1].taken_at.timestamp()
    span = max(end - start, 1)
    top = max(max(s.total for s in samples), 1)
    points = " ".join(
        f"{(s.taken_at.timestamp() - start) / span * width:.1f},{height - s.used / top * height:.1f}"
        for s in samples
    )
    return format_html(
        '<svg class="quota-chart" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<rect width="100%" height="100%" fill="#f6f8fa"/>'
        '<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{}"/></svg>'
        # Not the admin's "help" class: inside a readonly row it is indented past the chart.
        '<p class="quota-chart-caption">{} readings from {} to {}; the top is the drive size ({}).</p>',
        width,
        height,
        width,
        height,
        f"Used space, {len(samples)} readings",
        points,
        len(samples),
        samples[0].taken_at.strftime("%Y-%m-%d %H:%M"),
        samples[-1].taken_at.strftime("%Y-%m-%d %H:%M"),
        filesizeformat(top),
    )


def health_badge(obj):
    badge = format_html(
        '<strong class="health health-{}" style="color:{}">{}</strong>',
        obj.health,
        HEALTH_COLOURS.get(obj.health, "#57606a"),
        obj.get_health_display(),
    )
    if (
        obj.kind == Channel.Kind.ONEDRIVE
        and obj.health in (Channel.Health.NEEDS_REAUTH, Channel.Health.NOT_CONNECTED)
        and obj.pk
    ):
        url = reverse("admin:channels_onedrivechannel_change", args=[obj.pk]) + "#get-token"
        badge = format_html('{} <a class="get-token-link" href="{}">Get Token</a>', badge, url)
    if obj.paused_until is not None and obj.paused_until > timezone.now():
        badge = format_html(
            '{} <span class="paused">(throttled: uploads wait until {} UTC)</span>',
            badge,
            obj.paused_until.strftime("%H:%M:%S"),
        )
    return badge
