"""The file list as a gallery of cards (`view=gallery` in the query string), and the page's tags.

The list and the gallery are one ChangeList: the same search, filters, sorting, paging and
actions; only the rows are drawn differently. A page's tags come in one query.
"""

from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Prefetch, prefetch_related_objects
from django.template.defaultfilters import filesizeformat

from library import batch
from library.models import FileTag
from uploads.models import StoredFile

VIEW = "view"
GALLERY = "gallery"
BADGES = {"normal": "normal", "allowed (white)": "allowed", "blocked": "blocked"}


def tags_of(stored) -> list[str]:
    """The file's tags in the order given, from the page's prefetch (LibraryChangeList)."""
    return [ft.tag.name for ft in stored.file_tags.all()]


def previewable(stored) -> bool:
    # SVG is left out as uploads' own list does; a deleted file's link answers 404.
    return (
        stored.status != StoredFile.Status.DELETED
        and stored.category == "image"
        and stored.content_type != "image/svg+xml"
    )


def tile_label(stored) -> str:
    """What a card without a thumbnail says it holds: the extension, else the kind."""
    if stored.status == StoredFile.Status.DELETED:
        return "deleted"
    ext = stored.name.rpartition(".")[2] if "." in stored.name else ""
    return (ext or stored.category or "file").upper()[:8]


class LibraryChangeList(ChangeList):
    def __init__(self, request, *args, **kwargs):
        self.gallery = request.GET.get(VIEW) == GALLERY
        self.request = request
        super().__init__(request, *args, **kwargs)

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        prefetch_related_objects(
            self.result_list,
            Prefetch("file_tags", queryset=FileTag.objects.select_related("tag").order_by("id")),
        )

    @property
    def list_link(self):
        return self.get_query_string(remove=[VIEW])

    @property
    def gallery_link(self):
        return self.get_query_string({VIEW: GALLERY})

    def cards(self):
        preserved = {
            "preserved_filters": self.model_admin.get_preserved_filters(self.request),
            "opts": self.opts,
        }
        for stored in self.result_list:
            access = batch.access_of(stored)
            yield {
                "pk": stored.pk,
                "file": stored,
                "name": stored.name,
                "href": add_preserved_filters(preserved, self.url_for_result(stored)),
                "size": filesizeformat(stored.size),
                "tags": tags_of(stored),
                "access": access,
                "badge": BADGES.get(access, "normal"),
                "preview": previewable(stored),
                "tile": tile_label(stored),
                "status": stored.get_status_display() if stored.status != StoredFile.Status.STORED else "",
            }
