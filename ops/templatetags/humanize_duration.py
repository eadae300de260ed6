from django import template

register = template.Library()


@register.filter
def duration(delta):
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


_UNITS = [("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]


@register.filter
def every(seconds):
    """A schedule's interval in words: 86400 -> 'every day', 300 -> 'every 5 minutes'."""
    seconds = int(getattr(seconds, "total_seconds", lambda: seconds)())
    if seconds <= 0:
        return "continuously"
    for unit, size in _UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"  # unreachable: a second divides everything
