from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from channels.errors import ChannelError
from channels.forms import OneDriveChannelForm
from channels.models import Channel, OneDriveChannel
from channels.onedrive import connection, endpoints, oauth

HEALTH_COLOURS = {
    Channel.Health.CONNECTED: "#1a7f37",
    Channel.Health.NOT_CONNECTED: "#57606a",
    Channel.Health.DEGRADED: "#bf8700",
    Channel.Health.NEEDS_REAUTH: "#cf222e",
    Channel.Health.ERROR: "#cf222e",
}


def quota_bar(channel):
    if channel.quota_total is None or channel.quota_used is None:
        return format_html('<span class="quota-unknown">{}</span>', "unknown")
    total = max(channel.quota_total, 1)
    percent = min(100, round(100 * channel.quota_used / total))
    return format_html(
        '<div class="quota" title="{}% used, state {}">'
        '<progress max="100" value="{}" style="width:9em"></progress> '
        '<span class="quota-figures">{} / {}</span></div>',
        percent,
        channel.quota_state or "unknown",
        percent,
        filesizeformat(channel.quota_used),
        filesizeformat(channel.quota_total),
    )


def quota_chart(samples, width=480, height=120):
    """Used space over time as an inline SVG line, scaled to the drive's size."""
    if len(samples) < 2:
        return "Not enough readings yet: quota is read every few minutes."
    start, end = samples[0].taken_at.timestamp(), samples[-1].taken_at.timestamp()
    span = max(end - start, 1)
    top = max(max(s.total for s in samples), 1)
    points = " ".join(
        f"{(s.taken_at.timestamp() - start) / span * width:.1f},{height - s.used / top * height:.1f}"
        for s in samples
    )
    return format_html(
        '<svg class="quota-chart" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<rect width="100%" height="100%" fill="#f6f8fa"/>'
        '<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{}"/></svg>'
        '<div class="help">{} readings from {} to {}; the top is the drive size ({}).</div>',
        width,
        height,
        width,
        height,
        f"Used space, {len(samples)} readings",
        points,
        len(samples),
        samples[0].taken_at.strftime("%Y-%m-%d %H:%M"),
        samples[-1].taken_at.strftime("%Y-%m-%d %H:%M"),
        filesizeformat(top),
    )


@admin.register(OneDriveChannel)
class OneDriveChannelAdmin(admin.ModelAdmin):
    form = OneDriveChannelForm
    list_display = ["name", "account", "health_badge", "quota", "enabled"]
    list_filter = ["health", "enabled", "cloud"]
    search_fields = ["name", "account_name", "account_email", "note"]
    actions = ["get_token", "test_connection"]
    readonly_fields = [
        "redirect_uri",
        "get_token_button",
        "account",
        "health_badge",
        "last_error",
        "quota",
        "quota_history",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "client_id",
                    "client_secret",
                    "tenant_id",
                    "refresh_token",
                    "get_token_button",
                    "root_directory",
                    "note",
                    "enabled",
                ]
            },
        ),
        ("Microsoft Entra", {"fields": ["redirect_uri", "cloud"]}),
        ("Serving", {"fields": ["serve_mode"]}),
        ("Status", {"fields": ["account", "health_badge", "last_error", "quota", "quota_history"]}),
    ]

    class Media:
        js = ["channels/copy.js", "channels/get_token.js"]

    @admin.display(description="Account")
    def account(self, obj):
        if not obj.account_name and not obj.account_email:
            return "—"
        return format_html(
            "{} <span class='account-email'>&lt;{}&gt;</span>", obj.account_name, obj.account_email
        )

    @admin.display(description="Health", ordering="health")
    def health_badge(self, obj):
        badge = format_html(
            '<strong class="health health-{}" style="color:{}">{}</strong>',
            obj.health,
            HEALTH_COLOURS.get(obj.health, "#57606a"),
            obj.get_health_display(),
        )
        if obj.health in (Channel.Health.NEEDS_REAUTH, Channel.Health.NOT_CONNECTED) and obj.pk:
            url = reverse("admin:channels_onedrivechannel_change", args=[obj.pk]) + "#get-token"
            badge = format_html('{} <a class="get-token-link" href="{}">Get Token</a>', badge, url)
        return badge

    @admin.display(description="Quota")
    def quota(self, obj):
        return quota_bar(obj)

    @admin.display(description="Used space over time")
    def quota_history(self, obj):
        return quota_chart(list(obj.quota_samples.order_by("-taken_at")[:200])[::-1]) if obj.pk else "—"

    @admin.display(description="Redirect URI")
    def redirect_uri(self, obj):
        return format_html(
            '<code id="redirect-uri">{}</code> <button type="button" class="button" data-copy="#redirect-uri">'
            "Copy</button><div class='help'>Register this exact URI in Microsoft Entra under "
            "Authentication &gt; Add a platform &gt; Web.</div>",
            endpoints.redirect_uri(),
        )

    @admin.display(description="")
    def get_token_button(self, obj):
        return format_html(
            '<button type="button" class="button" id="get-token" data-start-url="{}" data-channel-id="{}">'
            "Get Token</button>{}"
            '<div class="help">Opens Microsoft\'s sign-in in a new tab with the Client ID, Client Secret '
            "and Tenant ID above. The callback page shows the refresh token: copy it into Refresh Token "
            "and save{}.</div>"
            '<datalist id="tenant-choices"><option value="consumers"><option value="common">'
            '<option value="organizations"></datalist>',
            reverse("onedrive_oauth_start"),
            obj.pk or "" if obj else "",
            format_html(
                ' <button type="submit" class="button" id="test-connection" formaction="{}">Test connection</button>',
                reverse("admin:channels_onedrivechannel_test_connection", args=[obj.pk]),
            )
            if obj and obj.pk
            else "",
            ", or use its Save button" if obj and obj.pk else "",
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="channels_onedrivechannel_test_connection",
            ),
        ] + super().get_urls()

    def test_connection_view(self, request, pk):
        channel = get_object_or_404(OneDriveChannel, pk=pk)
        if request.method == "POST" and self.has_change_permission(request, channel):
            self._check(request, channel)
        return redirect(reverse("admin:channels_onedrivechannel_change", args=[pk]))

    def _check(self, request, channel):
        try:
            checked = connection.check_connection(channel.pk)
        except ChannelError as exc:
            self.message_user(request, f"{channel.name}: {exc}", messages.ERROR)
            return False
        self.message_user(
            request,
            f"{checked.name}: connected as {checked.account_name} ({checked.account_email}); "
            f"{filesizeformat(checked.quota_used or 0)} of {filesizeformat(checked.quota_total or 0)} used.",
            messages.SUCCESS,
        )
        return True

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request, queryset):
        for channel in queryset:
            self._check(request, channel)

    @admin.action(description="Get Token (sign in again)", permissions=["change"])
    def get_token(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one channel for Get Token.", messages.WARNING)
            return None
        channel = queryset.get()
        if not channel.client_id or not channel.has_client_secret:
            self.message_user(
                request, f"{channel.name}: fill in Client ID and Client Secret first.", messages.ERROR
            )
            return None
        try:
            auth_uri = oauth.begin(
                request.session,
                client_id=channel.client_id,
                client_secret=channel.client_secret,
                tenant=channel.tenant_id,
                cloud=channel.cloud,
                channel_id=channel.pk,
            )
        except ChannelError as exc:
            self.message_user(request, f"{channel.name}: {exc}", messages.ERROR)
            return None
        return redirect(auth_uri)

    @method_decorator(sensitive_post_parameters("client_secret", "refresh_token"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A pasted refresh token is proved at once, so the list shows the account and quota.
        if form.cleaned_data.get("refresh_token"):
            self._check(request, obj)
