"""The public side, without signing in: GET /random, GET /api/public/list and the /browse/ pages.

Each is off until staff turn it on in the site settings, and reads those through
imgbed_site.runtime (no query of its own for them).
"""

import functools
import math
from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from imgbed_site import runtime
from library import listing, metadata, public, random_pick, visibility
from library.access import BadInput, answer
from uploads import serving

PAGE_SIZE = 60  # files on one /browse/ page
# Browsers send these on later requests once asked: orientation=auto then reads the viewport.
CLIENT_HINTS = "Sec-CH-Viewport-Width, Sec-CH-Viewport-Height, Sec-CH-UA-Mobile"


def _refused(exc: BadInput):
    return answer({"error": str(exc), **exc.extra}, exc.status)


def reads_only(view):
    """GET and HEAD; anything else a 405 in words (JSON for the API, as its other answers)."""

    @csrf_exempt  # nothing here changes anything: a POST gets the 405, not a CSRF page
    @functools.wraps(view)
    def run(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            response = answer({"error": f"{request.path} only answers GET and HEAD."}, 405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return run


def file_path(public_id: str) -> str:
    return "/file/" + quote(public_id)


@reads_only
def random_file(request):
    rules = runtime.current()
    if not rules.random_enabled:
        message = (
            "Random is disabled: this site does not hand out random images. Staff can turn it on "
            "in the admin, under Site › Site settings › Random images."
        )
        return answer({"error": message}, 403)
    try:
        query = random_pick.parse(request.GET, request.headers, rules)
    except BadInput as exc:
        return _refused(exc)
    public_id = random_pick.pick(random_pick.matching(query, rules))
    if public_id is None:
        response = _nothing(query)
    elif query.type == "img":
        response = serving.serve(request, public_id)
        response["Content-Location"] = file_path(public_id)
    else:
        url = file_path(public_id)
        if query.type == "url":
            url = settings.SITE_URL + url
        if query.form == "text":
            response = HttpResponse(url, content_type="text/plain; charset=utf-8")
            response["Access-Control-Allow-Origin"] = "*"
        else:
            response = answer({"url": url})
    # Each request draws anew: no cache may answer for it.
    response["Cache-Control"] = "no-store"
    response["Accept-CH"] = CLIENT_HINTS
    return response


def _nothing(query):
    """ImgBed's 200 {} for a JSON answer, which its clients test for; an image or a text answer
    has no empty form that an <img> or a script could tell from a file, so those get a 404."""
    if query.type != "img" and query.form != "text":
        return answer({})
    message = (
        "No file matches: no file in the folders /random may pick from has this content and orientation."
    )
    if query.form == "text":
        response = HttpResponse(message + "\n", status=404, content_type="text/plain; charset=utf-8")
        response["Access-Control-Allow-Origin"] = "*"
        return response
    return answer({"error": message}, 404)


@reads_only
def public_list(request):
    rules = runtime.current()
    try:
        query = public.parse(request.GET, rules)
    except BadInput as exc:
        return _refused(exc)
    return answer(public.respond(public.read(query), rules))


def _message(request, status, title, message, folders=()):
    context = {"title": title, "message": message, "folders": [_folder_link(f) for f in folders]}
    return render(request, "library/browse_message.html", context, status=status)


def _folder_link(folder: str) -> dict:
    return {"name": folder, "label": folder.rsplit("/", 1)[-1], "href": "/browse/" + quote(folder) + "/"}


def _page_number(request) -> int:
    raw = request.GET.get("page", "").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"page must be a whole number from 1 up, not {raw!r}.")
    return int(raw)


@reads_only
def browse(request, folder=""):
    rules = runtime.current()
    folder = listing.normalise_dir(folder).removesuffix("/")
    try:
        public.check_open(rules, folder)
    except public.Closed as exc:
        if rules.public_browse and not folder:
            return _message(
                request, 200, "Public folders", "Pick a folder.", folders=rules.public_browse_folders
            )
        title = "Public browsing is off" if not rules.public_browse else "This folder is not public"
        folders = rules.public_browse_folders if rules.public_browse else ()
        return _message(request, 403, title, str(exc), folders=folders)
    try:
        number = _page_number(request)
    except BadInput as exc:
        return _message(request, 400, "Not a page number", str(exc))
    query = listing.ListQuery(
        start=(number - 1) * PAGE_SIZE, count=PAGE_SIZE, dir=listing.normalise_dir(folder), tree_total=False
    )
    visibility.limit(query, rules)
    found = public.read(query)
    listed = not folder or folder in rules.public_browse_folders
    if not found.total and not found.directories and not listed:
        return _message(request, 404, "No such folder", f"No public file is in the folder {folder}.")
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    if number > pages:
        return _message(
            request, 404, "No such page", f"The folder has {pages} page{'s' if pages > 1 else ''} of files."
        )
    context = {
        "folder": folder,
        "crumbs": _crumbs(folder, rules),
        "subfolders": [_folder_link(f) for f in found.directories],
        "tiles": [_tile(row) for row in found.files],
        "total": found.total,
        "page": number,
        "pages": pages,
        "previous": number - 1 if number > 1 else None,
        "next": number + 1 if number < pages else None,
    }
    return render(request, "library/browse.html", context)


def _crumbs(folder: str, rules) -> list[dict]:
    """The folders above this one, linked where they are open to browsing."""
    crumbs = []
    parts = folder.split("/") if folder else []
    for depth in range(1, len(parts)):
        above = "/".join(parts[:depth])
        link = _folder_link(above)
        link["open"] = rules.browse_allows(above)
        crumbs.append(link)
    return crumbs


def _tile(row) -> dict:
    name = row.public_id.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    kind = row.content_type.split("/", 1)[0]
    path = file_path(row.public_id)
    return {
        "name": name,
        "path": path,
        "url": settings.SITE_URL + path,
        "image": kind == "image",
        "width": row.width,
        "height": row.height,
        "label": (extension if 0 < len(extension) <= 5 else kind).upper(),
        "content_type": row.content_type,
        "size": metadata.megabytes(row.size),
    }
