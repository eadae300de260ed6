"""Reading the library admin's pages as a person reads them: the files a list or gallery shows,
each file's outcome after a batch action, and the fields a form page would post."""

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join("".join(parts).split())

    def all(self, tag=None, cls=None, **attrs):
        for child in self.children:
            if isinstance(child, str):
                continue
            if (
                (tag is None or child.tag == tag)
                and (cls is None or cls in child.classes)
                and all(child.attrs.get(k) == v for k, v in attrs.items())
            ):
                yield child
            yield from child.all(tag, cls, **attrs)

    def one(self, tag=None, cls=None, **attrs):
        found = list(self.all(tag, cls, **attrs))
        assert len(found) == 1, (tag, cls, attrs, len(found))
        return found[0]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Element("document", {})

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.node)
        self.node.children.append(element)
        if tag not in VOID:
            self.node = element

    def handle_endtag(self, tag):
        node = self.node
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def parse(response_or_html) -> Element:
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    builder = _Builder()
    builder.feed(html)
    return builder.root


def listed_ids(response) -> list[str]:
    """The file ids the list (table rows) or the gallery (cards) shows, in order."""
    page = parse(response)
    cards = [c.attrs["data-file-id"] for c in page.all("li", cls="card")]
    return cards or [span.attrs["title"] for span in page.all("span", cls="file-id")]


def outcomes(response) -> dict:
    """{file id as it was: (done / unchanged / refused, the outcome in words)} from a results page."""
    page = parse(response)
    found = {}
    for row in page.one("table", id="batch-outcomes").all("tr", cls="outcome"):
        result = next(c.removeprefix("outcome-") for c in row.classes if c != "outcome")
        found[row.attrs["data-file-id"]] = (result, list(row.all("td"))[1].text())
    return found


def form_fields(response, form_id) -> list[tuple[str, str]]:
    """What the form would post as it stands: hidden and text inputs, checked boxes and radios."""
    form = parse(response).one("form", id=form_id)
    fields = []
    for field in form.all("input"):
        kind = field.attrs.get("type", "text")
        if "name" not in field.attrs or kind in ("submit", "button"):
            continue
        if kind in ("checkbox", "radio") and "checked" not in field.attrs:
            continue
        fields.append((field.attrs["name"], field.attrs.get("value", "")))
    return fields
