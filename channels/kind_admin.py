"""The admin of every channel kind: one list of all channels, "Add channel" that asks for the
kind, and KindChannelAdmin, the pages of a kind configured by its form (each kind's admin.py
registers its proxy with it; OneDrive's adds Get Token). Every kind's rows show in the one
list, and its pages open from there.
"""

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from channels import kinds, probes
from channels.admin_display import health_badge, quota_bar, quota_chart
from channels.errors import ChannelError
from channels.models import Channel


def kind_url(channel_or_kind, action="change", *args):
    kind = getattr(channel_or_kind, "kind", channel_or_kind)
    return reverse(f"admin:channels_{kind}channel_{action}", args=args)


def used_bar(channel):
    """Used space against the channel's size: the provider's quota, else the staff-set capacity."""
    if channel.quota_total is None and channel.capacity:
        channel.quota_total, channel.quota_used = channel.capacity, channel.stored_bytes
    return quota_bar(channel)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Every channel of every kind, in the order uploads choose them."""

    list_display = ["name", "kind", "health_badge", "space", "priority", "weight", "enabled"]
    list_display_links = ["name"]
    list_filter = ["kind", "health", "enabled"]
    list_editable = ["priority", "weight", "enabled"]
    search_fields = ["name", "note"]
    ordering = ["priority", "name"]
    actions = ["test_connection"]

    @admin.display(description="Health", ordering="health")
    def health_badge(self, obj):
        return health_badge(obj)

    @admin.display(description="Used / capacity")
    def space(self, obj):
        return used_bar(obj)

    def get_urls(self):
        return [
            path("add/", self.admin_site.admin_view(self.choose_kind), name="channels_channel_add"),
            path(
                "<int:pk>/change/", self.admin_site.admin_view(self.open_kind), name="channels_channel_change"
            ),
        ] + super().get_urls()

    def choose_kind(self, request):
        context = {
            **self.admin_site.each_context(request),
            "title": "Add channel: choose its kind",
            "opts": self.model._meta,
            "choices": [
                (kind.label, kind.blurb, kind_url(kind.name, "add")) for kind in kinds.KINDS.values()
            ],
        }
        return TemplateResponse(request, "admin/channels/choose_kind.html", context)

    def open_kind(self, request, pk):
        return redirect(kind_url(get_object_or_404(Channel, pk=pk), "change", pk))

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request, queryset):
        for channel in queryset:
            test_and_tell(self, request, channel)


def test_and_tell(model_admin, request, channel) -> bool:
    try:
        done = probes.check(channel.pk)
    except ChannelError as exc:
        model_admin.message_user(request, f"{channel.name}: the test failed: {exc}", messages.ERROR)
        return False
    model_admin.message_user(request, f"{channel.name} works: {done}.", messages.SUCCESS)
    return True


class KindChannelAdmin(admin.ModelAdmin):
    """The pages of one kind configured by its form (channels.kinds). Listed in the one list only."""

    kind = None
    readonly_fields = ["health_badge", "last_error", "space", "history", "test_button"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = kinds.form_class(self.kind)
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        form = kinds.form_class(self.kind)
        fieldsets = [(None, {"fields": list(form.base_fields)})]
        if obj is not None and obj.pk:
            fieldsets.append(
                ("Status", {"fields": ["health_badge", "last_error", "space", "history", "test_button"]})
            )
        return fieldsets

    def has_module_permission(self, request):
        return False  # reached from the one list of channels

    @admin.display(description="Health")
    def health_badge(self, obj):
        return health_badge(obj)

    @admin.display(description="Used / capacity")
    def space(self, obj):
        return used_bar(obj)

    @admin.display(description="Space over time")
    def history(self, obj):
        return quota_chart(list(obj.quota_samples.order_by("-taken_at")[:200])[::-1])

    @admin.display(description="Test connection")
    def test_button(self, obj):
        return format_html(
            '<button type="submit" class="button" id="test-connection" formaction="{}">Test connection</button>',
            kind_url(obj, "test_connection", obj.pk),
        )

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<int:pk>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name=f"{info[0]}_{info[1]}_test_connection",
            ),
        ] + super().get_urls()

    def test_connection_view(self, request, pk):
        channel = get_object_or_404(self.model, pk=pk)
        if request.method == "POST" and self.has_change_permission(request, channel):
            test_and_tell(self, request, channel)
        return redirect(kind_url(channel, "change", pk))

    @method_decorator(sensitive_post_parameters("secret_access_key", "password"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.save_settings(form.instance)
        # Proved at once, so the list shows whether it works; the save shows one outcome.
        channel = form.instance
        try:
            done = probes.check(channel.pk)
        except ChannelError as exc:
            request._channel_saved = (
                f"{channel.name} was saved, but the test failed: {exc}",
                messages.WARNING,
            )
        else:
            request._channel_saved = (f"{channel.name} was saved and works: {done}.", messages.SUCCESS)

    def message_user(self, request, message, level=messages.INFO, extra_tags="", fail_silently=False):
        saved = getattr(request, "_channel_saved", None)
        if saved is not None and level == messages.SUCCESS:
            request._channel_saved = None
            message, level = saved
        super().message_user(request, message, level, extra_tags, fail_silently)

    def response_post_save_add(self, request, obj):
        return redirect(reverse("admin:channels_channel_changelist"))

    def response_post_save_change(self, request, obj):
        return redirect(reverse("admin:channels_channel_changelist"))
