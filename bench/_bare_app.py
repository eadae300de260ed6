"""A bare Django site for bench/acknowledged.py: POST /upload writes the
multipart field `file` to disk and answers like the real site, nothing else
(no middleware, no database, no broker).

Served by the same gunicorn command as the site:
`gunicorn _bare_app:application --pythonpath bench`, with BENCH_BARE_DIR the
folder the files go to.
"""

import os
import uuid

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-upload-bench",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

OUT = os.environ["BENCH_BARE_DIR"]


@csrf_exempt
def upload(request):
    if request.method != "POST":
        return JsonResponse({"error": "Use POST."}, status=405)
    received = request.FILES.get("file")
    if received is None:
        return JsonResponse({"error": "No file."}, status=400)
    name = uuid.uuid4().hex
    with open(os.path.join(OUT, name), "wb") as out:
        for chunk in received.chunks():
            out.write(chunk)
    return JsonResponse([{"src": f"/file/{name}"}], safe=False)


def ready(request):
    return JsonResponse({})


urlpatterns = [path("upload", upload), path("api/channels", ready)]
application = get_wsgi_application()
