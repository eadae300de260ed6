from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from imgbed_site import runtime
from imgbed_site.models import SiteSettings
from uploads.client_ip import client_ip


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    """One page for the one row: the list and "add" lead to it, and it cannot be deleted."""

    fieldsets = [
        (
            "Serving files",
            {
                "fields": [
                    "allowed_referers",
                    "refuse_without_referer",
                    "whitelist_mode",
                    "refusal",
                    "placeholder_url",
                ]
            },
        ),
        ("Uploads", {"fields": ["upload_ip_blocklist"]}),
        ("Public browsing", {"fields": ["public_browse", "public_browse_folders"]}),
        ("Random images", {"fields": ["random_enabled", "random_folders"]}),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        row = SiteSettings.load()
        return HttpResponseRedirect(reverse("admin:imgbed_site_sitesettings_change", args=[row.pk]))

    def get_object(self, request, object_id, from_field=None):
        if str(object_id) == str(SiteSettings.SINGLETON_PK):
            return SiteSettings.load()
        return None

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        field = form.base_fields.get("upload_ip_blocklist")
        if field is not None:
            seen = client_ip(request) or "unknown (a Unix socket without a trusted proxy)"
            field.help_text = f"{field.help_text} Your own address, as this site sees it: {seen}."
        return form

    def response_change(self, request, obj):
        if runtime.shared_cache():
            when = f"within {runtime.MEMO_SECONDS:g} seconds"
        else:
            when = (
                f"within {runtime.CACHE_SECONDS + runtime.MEMO_SECONDS:g} seconds (CACHE_URL is a cache of "
                f"each process's own; with Redis it would be {runtime.MEMO_SECONDS:g} seconds)"
            )
        self.message_user(
            request, f"Saved. This process applies it now, every other web process {when}.", messages.SUCCESS
        )
        return HttpResponseRedirect(request.path)
