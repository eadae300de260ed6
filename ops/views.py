"""The operations page: queue, workers, uploads, failures, channels, schedules."""

from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Min
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from channels.models import Channel
from imgbed_site import runs
from ops.queues import queue_lengths, workers_online
from uploads import lifecycle
from uploads.models import StoredFile

Status = StoredFile.Status


def _periodic():
    # A run's own record, not Celery's status: "SUCCESS" only says the code returned.
    return [
        {"name": name, "task": entry["task"], "every": entry["schedule"], "last": runs.latest(entry["task"])}
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    ]


def operations(request):
    counts = dict(StoredFile.objects.values_list("status").annotate(n=Count("pk")))
    oldest = StoredFile.objects.filter(status=Status.PENDING).aggregate(oldest=Min("created_at"))["oldest"]
    attention = Channel.objects.exclude(health=Channel.Health.CONNECTED) | Channel.objects.filter(
        quota_state__in=["nearing", "critical", "exceeded"]
    )
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "queues": queue_lengths(),
        "workers": workers_online(),
        "counts": [(label, counts.get(value, 0), value) for value, label in Status.choices],
        "oldest_pending": timezone.now() - oldest if oldest else None,
        "failures": StoredFile.objects.filter(status=Status.FAILED)
        .select_related("channel")
        .order_by("-updated_at")[:20],
        "attention": attention.distinct().order_by("name"),
        "has_channels": Channel.objects.exists(),
        "periodic": _periodic(),
        "flower_url": settings.FLOWER_URL,
    }
    return TemplateResponse(request, "ops/operations.html", context)


@require_POST
def retry(request, pk):
    stored = get_object_or_404(StoredFile, pk=pk)
    with transaction.atomic():
        sent = lifecycle.retry(stored)
    if sent:
        messages.success(request, f"{stored.public_id} was sent to the workers again.")
    else:
        messages.warning(request, f"{stored.public_id} is not failed any more.")
    return redirect("ops")
