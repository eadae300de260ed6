"""The file list's filters in the admin: the folder tree, tags (all of, none of) and the access list.

Their values live in the list's query string, so paging, sorting, search and the other filters
keep them; a value that cannot be used is said in words above the list, which then shows no files.
"""

import re

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef

from library import folders, listing
from library.access import BadInput
from library.models import FileTag, Tag
from uploads.models import StoredFile

TOP = "/"  # the folder parameter's value for files in no folder
MAX_SUGGESTED_TAGS = 500
MAX_SUBFOLDERS = 100  # shown under one folder; the others are reached by typing their path
_TAG_SEPARATORS = re.compile(r"[,\s]+")


def _say_once(request, text):
    """A filter's error above the list: the list builds its filters again for an action, said once."""
    said = request.__dict__.setdefault("_library_filter_errors", set())
    if text not in said:
        said.add(text)
        messages.error(request, text)


def _last(params, name):
    """The value a filter reads (Django gives lists), popped so the list does not take it as a field lookup."""
    values = params.pop(name, None)
    return values[-1] if values else None


class FolderFilter(admin.ListFilter):
    """The folder tree: each folder with its files and, beside it, those of its subfolders too. Clicking
    a folder shows its files and opens it; `subfolders=1` shows what is below it as well."""

    title = "folder"
    template = "admin/library/folder_filter.html"
    parameter_name = "folder"
    subfolders_parameter = "subfolders"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            value = _last(params, name)
            if value is not None:
                self.used_parameters[name] = value
        raw = self.used_parameters.get(self.parameter_name)
        self.path = None if raw is None or raw.strip() == "" else raw.strip().strip("/")
        self.subfolders = self.used_parameters.get(self.subfolders_parameter) == "1"

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_name, self.subfolders_parameter]

    def queryset(self, request, queryset):
        if self.path is None:
            return queryset
        return queryset.filter(folders.within(self.path, self.subfolders))

    def _link(self, changelist, path):
        if path is None:
            return changelist.get_query_string(remove=[self.parameter_name])
        return changelist.get_query_string({self.parameter_name: path or TOP})

    def _rows(self, changelist, top):
        """The top-level folders, and the subfolders of each folder on the way to the chosen one."""
        chosen = self.path or ""
        rows = []

        def on_the_way(path):
            return chosen == path or chosen.startswith(path + "/")

        def add(node):
            is_open = bool(node.children) and on_the_way(node.path)
            rows.append(
                {
                    "label": node.name,
                    "path": node.path,
                    "href": self._link(changelist, node.path),
                    "selected": self.path == node.path,
                    "depth": node.depth,
                    "direct": node.direct,
                    "total": node.total,
                    "has_children": bool(node.children),
                    "open": is_open,
                }
            )
            if is_open:
                add_children(node)

        def add_children(node):
            names = sorted(node.children)
            # The way to the chosen folder stays in view however many folders are beside it.
            shown = set(names[:MAX_SUBFOLDERS]) | {n for n in names if on_the_way(node.children[n].path)}
            for name in names:
                if name in shown:
                    add(node.children[name])
            if len(names) > len(shown):
                rows.append({"more": len(names) - len(shown), "depth": node.depth + 1, "path": node.path})

        add_children(top)
        return rows

    def choices(self, changelist):
        top = folders.tree()
        yield {
            "everything": {
                "href": self._link(changelist, None),
                "selected": self.path is None,
                "total": top.total,
            },
            "top_level": {
                "href": self._link(changelist, ""),
                "selected": self.path == "",
                "direct": top.direct,
            },
            "rows": self._rows(changelist, top),
            "typed": self.path or "",
            "hidden": [(k, v) for k, v in changelist.params.items() if k != self.parameter_name],
            "subfolders": self.subfolders,
            "subfolders_href": changelist.get_query_string(
                {self.subfolders_parameter: "1"} if not self.subfolders else {},
                remove=[] if not self.subfolders else [self.subfolders_parameter],
            ),
            "unknown": self.path if self.path and folders.find(top, self.path) is None else None,
        }


def split_tags(value) -> list[str]:
    """Tags typed into a box: commas or spaces between them (no tag holds either)."""
    return [part for part in _TAG_SEPARATORS.split(value or "") if part]


class TagFilter(admin.ListFilter):
    """Files with all of `tags` and none of `not_tags` (commas or spaces between the names)."""

    title = "tags"
    template = "admin/library/tag_filter.html"
    all_parameter = "tags"
    none_parameter = "not_tags"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            value = _last(params, name)
            if value is not None:
                self.used_parameters[name] = value
        self.all_of = split_tags(self.used_parameters.get(self.all_parameter))
        self.none_of = split_tags(self.used_parameters.get(self.none_parameter))
        self.query, self.error = None, None
        if self.all_of or self.none_of:
            try:
                self.query = listing.parse(
                    {"includeTags": ",".join(self.all_of), "excludeTags": ",".join(self.none_of)}
                )
            except BadInput as exc:
                self.error = f"Tag filter: {exc} No files are shown until the filter is corrected."
                _say_once(request, self.error)

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.all_parameter, self.none_parameter]

    def queryset(self, request, queryset):
        if self.error:
            return queryset.none()
        if self.query is None:
            return queryset
        if self.query.nothing:  # a tag no file has
            return queryset.none()
        return queryset.filter(*self.query.where)

    def choices(self, changelist):
        names = self.expected_parameters()
        yield {
            "all_of": " ".join(self.all_of),
            "none_of": " ".join(self.none_of),
            "hidden": [(k, v) for k, v in changelist.params.items() if k not in names],
            "clear_href": changelist.get_query_string(remove=names),
            "active": bool(self.all_of or self.none_of),
            # Tags on some file, deleted or not: one index probe per tag, not a pass over the files.
            "suggestions": list(
                Tag.objects.filter(Exists(FileTag.objects.filter(tag=OuterRef("pk"))))
                .order_by("name")
                .values_list("name", flat=True)[:MAX_SUGGESTED_TAGS]
            ),
        }


class AccessFilter(admin.SimpleListFilter):
    title = "access list"
    parameter_name = "access"
    LIST_TYPES = {
        "normal": [StoredFile.ListType.NONE, ""],  # ImgBed's None also covers files with none at all
        "allowed": [StoredFile.ListType.WHITE],
        "blocked": [StoredFile.ListType.BLOCK],
    }

    def lookups(self, request, model_admin):
        return [("normal", "Normal"), ("allowed", "Allowed (white)"), ("blocked", "Blocked")]

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        value = self.value()
        if value is not None and value not in self.LIST_TYPES:
            _say_once(
                request,
                f"Access list filter: {value!r} is not one of normal, allowed, blocked. "
                "No files are shown until the filter is corrected.",
            )

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in self.LIST_TYPES:
            return queryset.none()
        return queryset.filter(list_type__in=self.LIST_TYPES[value])


class ViewChoice(admin.ListFilter):
    """Not a filter: it keeps `view=gallery` in the query string (and so in every paging, sorting,
    search and filter link) without the list reading it as a field."""

    title = "view"
    parameter_name = "view"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        _last(params, self.parameter_name)

    def has_output(self):
        return False

    def expected_parameters(self):
        return [self.parameter_name]

    def choices(self, changelist):
        return []

    def queryset(self, request, queryset):
        return queryset
