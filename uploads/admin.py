from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.timesince import timesince

from uploads import lifecycle
from uploads.models import ApiToken, StoredFile, UploadCode


@admin.register(StoredFile)
class StoredFileAdmin(admin.ModelAdmin):
    # Sized to fit a 1280 px screen beside the admin's sidebar and the filters
    # (uploads/admin.css): the content type is on each file's page, the category a filter.
    list_display = ["file", "preview", "status", "human_size", "channel", "age"]
    list_display_links = ["file"]
    list_filter = ["status", "channel", "category", "folder"]
    search_fields = ["public_id", "original_name"]
    actions = ["retry_uploads", "delete_files"]
    list_select_related = ["channel"]
    readonly_fields = [
        "preview",
        "public_id",
        "original_name",
        "folder",
        "remote_path",
        "size",
        "sha256",
        "content_type",
        "category",
        "channel",
        "status",
        "failure_reason",
        "attempts",
        "remote_id",
        "quickxorhash",
        "uploader",
        "api_token",
        "upload_code",
        "uploader_ip",
        "created_at",
        "stored_at",
        "deleted_at",
    ]
    fields = readonly_fields

    class Media:
        css = {"all": ["uploads/admin.css"]}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting goes through the action, which removes the remote item too.
        return False

    @admin.display(description="File", ordering="public_id")
    def file(self, obj):
        # The list cuts a long id short; the whole id is the title and the link's name.
        return format_html('<span class="file-id" title="{}">{}</span>', obj.public_id, obj.public_id)

    @admin.display(description="Preview")
    def preview(self, obj):
        if obj.status == StoredFile.Status.DELETED:
            return "—"
        if obj.category == "image" and obj.content_type != "image/svg+xml":
            return format_html(
                '<a href="{}" target="_blank" title="Open the file"><img class="file-preview" src="{}" '
                'alt="" loading="lazy"></a>',
                obj.url_path,
                obj.url_path,
            )
        return format_html('<a href="{}" target="_blank">open</a>', obj.url_path)

    @admin.display(description="Size", ordering="size")
    def human_size(self, obj):
        return filesizeformat(obj.size)

    @admin.display(description="Age", ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at, depth=1)

    @admin.action(description="Retry failed uploads", permissions=["change"])
    def retry_uploads(self, request, queryset):
        with transaction.atomic():
            count = sum(lifecycle.retry(f) for f in queryset.filter(status=StoredFile.Status.FAILED))
        self.message_user(request, f"{count} upload(s) sent to the workers again.", messages.SUCCESS)

    @admin.action(description="Delete files (link and remote copy)", permissions=["change"])
    def delete_files(self, request, queryset):
        with transaction.atomic():
            files = list(queryset.exclude(status=StoredFile.Status.DELETED))
            for stored in files:
                lifecycle.delete(stored)
        self.message_user(request, f"{len(files)} file(s) deleted.", messages.SUCCESS)


class UploadCodeForm(forms.ModelForm):
    code = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = UploadCode
        fields = ["label", "code", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        code = self.fields["code"]
        if self.instance.pk:
            code.help_text = (
                "The code uploaders give as authCode. It is stored hashed and cannot be shown: "
                "leave empty to keep the current one, or type a new code to replace it."
            )
        else:
            # A new code has nothing to keep: it must be given.
            code.required = True
            code.error_messages["required"] = "Choose a code."
            code.help_text = (
                "Choose the code uploaders will give as authCode, hard to guess like a password, "
                "and tell them. It is stored hashed and cannot be shown again."
            )

    def save(self, commit=True):
        if self.cleaned_data.get("code"):
            self.instance.set_code(self.cleaned_data["code"])
        return super().save(commit)


@admin.register(UploadCode)
class UploadCodeAdmin(admin.ModelAdmin):
    form = UploadCodeForm
    list_display = ["label", "enabled", "created_at", "last_used_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "hint",
        "can_upload",
        "can_delete",
        "can_list",
        "can_manage",
        "expires_at",
        "last_used_at",
    ]
    fields = ["name", "can_upload", "can_delete", "can_list", "can_manage", "expires_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            # Kept on the request only: it is rendered once by response_add, never stored.
            request._new_api_token = obj.issue()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        token = getattr(request, "_new_api_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/uploads/apitoken/created.html",
            {**self.admin_site.each_context(request), "token": token, "obj": obj, "opts": self.opts},
        )
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response
