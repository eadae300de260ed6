"""The admin's download of the library: the export_library JSON, streamed as it is written.

Channel secrets never leave through the browser, not even encrypted: a copy with
them is made on the server, with export_library --with-secrets.
"""

from django.http import HttpResponseForbidden, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from library.backup.export import stream


@require_GET
def download(request):
    # Staff only (admin_view in the URL conf); the export lists every file, so viewing files is needed.
    if not request.user.has_perm("uploads.view_storedfile"):
        return HttpResponseForbidden(
            "Downloading the library needs permission to view files: ask a superuser to give it to you."
        )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        stream(with_secrets=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="imgbed-library-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
