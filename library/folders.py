"""The folder tree: every folder holding a live file, counted in one GROUP BY over the partial
index uploads_live_folder_idx (folder first), then nested here over the distinct folders only."""

from dataclasses import dataclass, field

from django.db.models import Count, Q

from library import listing
from uploads.models import LIVE, StoredFile


@dataclass
class Folder:
    path: str  # "a/b"; "" is the top level
    direct: int = 0  # live files directly in it
    total: int = 0  # with everything below it
    children: dict = field(default_factory=dict)  # {name: Folder}

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    @property
    def depth(self) -> int:
        return self.path.count("/") + 1 if self.path else 0


def counts() -> dict:
    """{folder: live files directly in it}."""
    rows = StoredFile.objects.filter(LIVE).order_by().values_list("folder").annotate(n=Count("pk"))
    return dict(rows.values_list("folder", "n"))


def tree(direct: dict | None = None) -> Folder:
    """The top level, its subfolders nested below it, each with its own count and its total.
    A folder that holds only subfolders is there too, with a direct count of 0."""
    direct = counts() if direct is None else direct
    top = Folder("")
    for path, n in direct.items():
        node = top
        node.total += n
        if path:
            parts = path.split("/")
            for depth in range(len(parts)):
                name = parts[depth]
                if name not in node.children:
                    node.children[name] = Folder("/".join(parts[: depth + 1]))
                node = node.children[name]
                node.total += n
        node.direct += n
    return top


def find(top: Folder, path: str) -> Folder | None:
    node = top
    for name in path.split("/") if path else ():
        node = node.children.get(name)
        if node is None:
            return None
    return node


def within(path: str, subfolders: bool) -> Q:
    """The files in the folder ("" the top level), and below it when `subfolders`."""
    if not path:
        return Q() if subfolders else Q(folder="")
    match = Q(folder=path)
    return match | listing.below(f"{path}/") if subfolders else match
