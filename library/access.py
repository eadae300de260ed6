"""Who may call the management API, and the shape of its answers.

Each route names the permission it needs (list, delete or manage): the route
decides, never a word in the path (ImgBed asks for `delete` when a file's id
contains a `delete` folder). API tokens come as `Authorization: Bearer <token>`
or as the bare header value; staff may use their admin session, with the CSRF
header for anything that changes files.
"""

import functools
import json
import logging

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from uploads.auth import NotAuthorized, bearer_token, identify

log = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, PUT, PATCH, OPTIONS",
    "Access-Control-Max-Age": "86400",
}
SAFE_METHODS = ("GET", "HEAD")
WHAT = {"list": "list files", "delete": "delete files", "manage": "manage files"}


class BadInput(Exception):
    """A request the view refuses in words; `status` is 400 unless said otherwise."""

    def __init__(self, message, status=400, **extra):
        super().__init__(message)
        self.status = status
        self.extra = extra


def answer(body, status=200):
    response = JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    for key, value in CORS_HEADERS.items():
        response[key] = value
    response["Cache-Control"] = "no-store"
    return response


def error(message, status, **extra):
    return answer({"success": False, "error": message, **extra}, status)


def _refused(message, status):
    return answer({"error": message}, status)


def read_json(request) -> dict:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise BadInput("The body must be JSON.") from None
    if not isinstance(body, dict):
        raise BadInput("The body must be a JSON object.")
    return body


def _unauthorized(request, exc):
    if exc.retry_after is not None:  # too many wrong credentials from this address
        response = _refused(str(exc), exc.status)
        response["Retry-After"] = str(exc.retry_after)
        return response
    if bearer_token(request) is not None or request.GET.get("authCode") or request.headers.get("authCode"):
        message = str(exc)  # the credential given was wrong: say which
    else:
        message = "The management API needs an API token (Authorization: Bearer <token>) or a staff session."
        if request.user.is_authenticated:
            message += (
                " A signed-in browser must send the X-CSRFToken header for anything that changes files."
            )
    return _refused(message, 401)


def _check(request, permission, reads):
    """None when the request may go on; else the 401 or 403 answer."""
    try:
        who = identify(request, reads_only=request.method in reads)
    except NotAuthorized as exc:
        return _unauthorized(request, exc)
    if who.token is None and who.user is None:
        if who.code is None:
            return _unauthorized(request, NotAuthorized(""))
        return _refused("An auth code may only upload. Use an API token with the right permission.", 403)
    if who.can(permission):
        return None
    if who.token is not None:
        return _refused(
            f"This API token may not {WHAT[permission]}: give it the {permission} permission in the admin.",
            403,
        )
    return _refused(f"Only staff may {WHAT[permission]}.", 403)


def endpoint(permission, methods=None, reads=SAFE_METHODS):
    """A management view needing `permission`. `methods`: the methods it answers (None: any, as
    ImgBed's); `reads`: the methods for which it only reads, so a staff session needs no CSRF header."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def run(request, *args, **kwargs):
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
                for key, value in CORS_HEADERS.items():
                    response[key] = value
                return response
            refused = _check(request, permission, reads)
            if refused is not None:
                return refused
            if methods is not None and request.method not in methods:
                response = error(f"Use {' or '.join(methods)}.", 405)
                response["Allow"] = ", ".join((*methods, "OPTIONS"))
                return response
            try:
                return view(request, *args, **kwargs)
            except BadInput as exc:
                return error(str(exc), exc.status, **exc.extra)
            except Exception:
                log.exception("management API: %s %s failed", request.method, request.path)
                return error("The server failed to do this; the error is in its log.", 500)

        return run

    return wrap
