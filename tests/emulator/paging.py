"""Graph's paging of a folder's children: a page of `$top` items (children_page_size without it)
and, while more follow, an `@odata.nextLink` to the next page with an opaque `$skiptoken`."""

import base64
import json
from urllib.parse import quote, urlencode

from .server import Request


class BadPaging(ValueError):
    """A `$top` or `$skiptoken` Graph would refuse."""


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        offset = json.loads(raw)["offset"]
    except (ValueError, KeyError, TypeError):
        raise BadPaging(f"Invalid skip token '{token}'.") from None
    if not isinstance(offset, int) or offset < 0:
        raise BadPaging(f"Invalid skip token '{token}'.")
    return offset


def page(req: Request, items: list, page_size: int, next_url: str) -> tuple[list, str | None]:
    """The items of the page the request asks for, and the next page's link (None on the last).
    `next_url` is the collection's address without a query."""
    top = req.arg("$top")
    if top is not None:
        if not top.isdigit() or int(top) < 1:
            raise BadPaging(f"Invalid value '{top}' for $top.")
        page_size = int(top)
    token = req.arg("$skiptoken")
    start = _offset(token) if token else 0
    end = start + page_size
    if end >= len(items):
        return items[start:], None
    query = {k: v[0] for k, v in req.query.items() if k not in ("$skiptoken",)}
    query["$skiptoken"] = _token(end)
    return items[start:end], f"{next_url}?{urlencode(query, safe='$,', quote_via=quote)}"
