"""A database that is away for a moment (restarting, failing over, locked) answers 503 in words.

Without this a request in flight during a PostgreSQL restart gets a bare 500; with it, a client
is told to try again (Retry-After) and a person reads what happened. Nothing is half-saved: the
request's writes were in a transaction that did not commit.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

RETRY_AFTER = 5
MESSAGE = "The database is unavailable for a moment. Nothing was saved; try again in a few seconds."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.warning("%s %s: database unavailable: %s", request.method, request.path, exception)
        if _wants_json(request):
            response = JsonResponse({"error": MESSAGE}, status=503)
        else:
            response = HttpResponse(
                f"<!doctype html><title>Try again in a moment</title><h1>Try again in a moment</h1><p>{MESSAGE}</p>",
                status=503,
                content_type="text/html; charset=utf-8",
            )
        response["Retry-After"] = str(RETRY_AFTER)
        return response


def _wants_json(request) -> bool:
    if request.path.startswith(("/api/", "/upload", "/random")):
        return True
    return "application/json" in request.headers.get("Accept", "")
