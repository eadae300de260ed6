"""The emulator's folder listings, as Graph pages them: `$top` items a page (200 without it), an
`@odata.nextLink` with a `$skiptoken` while more follow, and 400 for paging Graph would refuse."""

import requests

REDIRECT = "http://127.0.0.1:8000/api/oauth/onedrive/callback"


def graph(emu):
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + emu.issue_access_token(
        emu.register_app(redirect_uris=[REDIRECT])
    )
    return s


def put(s, emu, path, data=b"x"):
    r = s.put(f"{emu.base_url}/v1.0/me/drive/root:/{path}:/content", data=data)
    assert r.status_code == 201, r.text


def names_by_page(s, url):
    pages = []
    while url:
        r = s.get(url, timeout=10)
        assert r.status_code == 200, r.text
        pages.append([item["name"] for item in r.json()["value"]])
        url = r.json().get("@odata.nextLink")
    return pages


def test_children_come_in_pages_linked_by_next_link(emulator):
    s = graph(emulator)
    for name in ("c.png", "A.png", "b.png", "d.png", "e.png"):
        put(s, emulator, f"pics/{name}")
    put(s, emulator, "pics/sub/f.png")
    url = f"{emulator.base_url}/v1.0/me/drive/root:/pics:/children?$top=2&$select=id,name"
    assert names_by_page(s, url) == [["A.png", "b.png"], ["c.png", "d.png"], ["e.png", "sub"]]
    first = s.get(url, timeout=10).json()
    follow = first["@odata.nextLink"]
    assert follow.startswith(f"{emulator.base_url}/v1.0/me/drive/items/") and "$skiptoken=" in follow
    assert "$top=2" in follow and "$select=id,name" in follow  # the query goes along

    emulator.settings.children_page_size = 4
    whole = names_by_page(s, f"{emulator.base_url}/v1.0/me/drive/root:/pics:/children")
    assert whole == [["A.png", "b.png", "c.png", "d.png"], ["e.png", "sub"]]


def test_a_folder_that_fits_one_page_has_no_next_link(emulator):
    s = graph(emulator)
    put(s, emulator, "one/a.png")
    body = s.get(f"{emulator.base_url}/v1.0/me/drive/root:/one:/children", timeout=10).json()
    assert [i["name"] for i in body["value"]] == ["a.png"] and "@odata.nextLink" not in body


def test_paging_graph_would_refuse_is_a_400(emulator):
    s = graph(emulator)
    put(s, emulator, "p/a.png")
    base = f"{emulator.base_url}/v1.0/me/drive/root:/p:/children"
    for query in ("$top=0", "$top=many", "$skiptoken=not-a-token"):
        r = s.get(f"{base}?{query}", timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalidRequest", query
