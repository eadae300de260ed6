"""The library in the admin: uploads' file list with a gallery, the folder tree, tag and access
filters, batch actions that say what happened to each file, and the statistics page.

uploads registers its own file admin; the library replaces it with this subclass, so uploads
never needs to know about tags, moves or access lists.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from library import batch, statistics
from library.admin_filters import AccessFilter, FolderFilter, TagFilter, ViewChoice
from library.admin_forms import MoveForm, TagForm
from library.gallery import LibraryChangeList, tags_of
from uploads.admin import StoredFileAdmin
from uploads.models import StoredFile

APPLY = "apply"  # posted by a batch action's own form page: run it now
SHOWN_BEFORE = 50  # files named on a batch action's form page
ListType = StoredFile.ListType

admin.site.unregister(StoredFile)


@admin.register(StoredFile)
class LibraryFileAdmin(StoredFileAdmin):
    change_list_template = "admin/library/storedfile/change_list.html"
    list_filter = [FolderFilter, TagFilter, AccessFilter, "status", "channel", "category", ViewChoice]
    actions = [
        "move_files",
        "tag_files",
        "block_files",
        "allow_files",
        "normal_files",
        "retry_uploads",
        "delete_files",
    ]

    class Media:
        css = {"all": ["library/admin.css"]}
        js = ["library/gallery.js"]

    def get_changelist(self, request, **kwargs):
        return LibraryChangeList

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_statistics"
        own = [path("statistics/", self.admin_site.admin_view(self.statistics_view), name=name)]
        return own + super().get_urls()

    @admin.display(description="File", ordering="public_id")
    def file(self, obj):
        # The file's access list (when it is on one) and tags, under its id: a column of their own
        # would leave the id too little room at 1280 px.
        access = batch.access_of(obj)
        notes = ([] if access == "normal" else [access]) + tags_of(obj)
        if not notes:
            return super().file(obj)
        return format_html(
            '{}<span class="file-tags" title="{}">{}</span>',
            super().file(obj),
            ", ".join(notes),
            ", ".join(notes),
        )

    def statistics_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Library statistics",
            "opts": self.opts,
            **statistics.figures(),
        }
        return TemplateResponse(request, "admin/library/statistics.html", context)

    # Batch actions. Each runs per file and answers with a page of every file's outcome.

    def _selection(self, request, queryset):
        """The batch's files, by id; None (said in words) when there are more than one batch takes."""
        files = list(queryset.order_by("public_id")[: batch.MAX_FILES + 1])
        if len(files) > batch.MAX_FILES:
            self.message_user(
                request,
                f"One batch takes at most {batch.MAX_FILES:,} files, and {queryset.count():,} are selected. "
                "Narrow the list with the filters or the search, then select again.",
                messages.ERROR,
            )
            return None
        return files

    def _ask(self, request, action, form, files, title, button):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "form": form,
            "action": action,
            "files": files[:SHOWN_BEFORE],
            "count": len(files),
            "more": max(0, len(files) - SHOWN_BEFORE),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "button": button,
            "back": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/library/storedfile/batch_form.html", context)

    def _results(self, request, title, outcomes):
        counts = {
            kind: sum(o.result == kind for o in outcomes)
            for kind in (batch.DONE, batch.UNCHANGED, batch.REFUSED)
        }
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "outcomes": outcomes,
            "done": counts[batch.DONE],
            "unchanged": counts[batch.UNCHANGED],
            "refused": counts[batch.REFUSED],
            "back": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/library/storedfile/batch_results.html", context)

    @admin.action(description="Move to a folder…", permissions=["change"])
    def move_files(self, request, queryset):
        files = self._selection(request, queryset)
        if files is None:
            return None
        form = MoveForm(request.POST if APPLY in request.POST else None)
        if form.is_valid():
            folder = form.cleaned_data["destination"]
            return self._results(request, f"Move into {batch.where(folder)}", batch.move(files, folder))
        return self._ask(request, "move_files", form, files, "Move files into a folder", "Move")

    @admin.action(description="Tag…", permissions=["change"])
    def tag_files(self, request, queryset):
        files = self._selection(request, queryset)
        if files is None:
            return None
        form = TagForm(request.POST if APPLY in request.POST else None)
        if form.is_valid():
            change, given = form.cleaned_data["change"], form.cleaned_data["tags"]
            words = {"add": "Add", "remove": "Remove", "set": "Replace the tags with"}[change]
            title = f"{words} {', '.join(given) or 'none'}"
            return self._results(request, title, batch.tag(files, change, given))
        return self._ask(request, "tag_files", form, files, "Change the tags of files", "Change tags")

    def _access(self, request, queryset, list_type, title):
        files = self._selection(request, queryset)
        if files is None:
            return None
        return self._results(request, title, batch.set_access(files, list_type))

    @admin.action(description="Block (served to no one)", permissions=["change"])
    def block_files(self, request, queryset):
        return self._access(request, queryset, ListType.BLOCK, "Block")

    @admin.action(description="Allow (white: always served)", permissions=["change"])
    def allow_files(self, request, queryset):
        return self._access(request, queryset, ListType.WHITE, "Allow (white)")

    @admin.action(description="Back to normal (off the block and white lists)", permissions=["change"])
    def normal_files(self, request, queryset):
        return self._access(request, queryset, ListType.NONE, "Back to normal")

    @admin.action(description="Delete files (link and remote copy)", permissions=["change"])
    def delete_files(self, request, queryset):
        files = self._selection(request, queryset)
        if files is None:
            return None
        return self._results(request, "Delete", batch.delete(files))
