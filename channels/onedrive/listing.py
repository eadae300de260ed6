"""Walking a OneDrive folder: its children a page at a time, the folders below it recursively.

Graph pages a folder's children (200 a page unless `$top` says otherwise) and
names the next page in `@odata.nextLink`; the walk follows it until there is
none. Requests go through the upload module's client, so throttling, outages
and an expired access token are handled as for every other Graph call.
"""

from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import requests

from channels.errors import PermanentError
from channels.onedrive.upload import DEFAULT_RETRY, RetryPolicy, TokenSource, _Client, _error, _quote_id

# Only what a listing needs: without it each file also carries a fresh download URL.
SELECT = "$select=id,name,size,file,folder,lastModifiedDateTime"


def _children_of_path(graph_base: str, folder: str) -> str:
    if not folder:
        return f"{graph_base}/me/drive/root/children?{SELECT}"
    path = "/".join(quote(part, safe="") for part in folder.split("/") if part)
    return f"{graph_base}/me/drive/root:/{path}:/children?{SELECT}"


def walk(
    graph_base: str,
    tokens: TokenSource,
    folder: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    session: requests.Session | None = None,
) -> Iterator[tuple[str, dict]]:
    """(path, driveItem) of every file under `folder` (a path from the top of the drive), folders
    walked depth first in name order. A folder that does not exist holds nothing."""
    origin = urlsplit(graph_base)[:2]
    folder = folder.strip("/")
    with _Client(tokens, retry, session) as client:
        pending = [(folder, _children_of_path(graph_base, folder))]
        while pending:
            here, url = pending.pop()
            below = []
            while url:
                if urlsplit(url)[:2] != origin:
                    # The access token goes with every request: never to another host.
                    raise PermanentError(
                        f"Microsoft Graph named a next page on another host ({urlsplit(url).netloc}).",
                        code="badNextLink",
                    )
                response = client.send("GET", url)
                if response.status_code == 404:  # no root directory yet, or a folder removed meanwhile
                    response.close()
                    break
                if response.status_code >= 400:
                    raise _error(response, f"the folder {here or '/'}")
                page = response.json()
                for item in page.get("value", []):
                    path = f"{here}/{item['name']}" if here else item["name"]
                    if "folder" in item:
                        below.append(
                            (path, f"{graph_base}/me/drive/items/{_quote_id(item['id'])}/children?{SELECT}")
                        )
                    elif "file" in item:
                        yield path, item
                url = page.get("@odata.nextLink")
            pending.extend(sorted(below, reverse=True))
