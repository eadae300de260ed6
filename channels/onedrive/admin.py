from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from channels import probes
from channels.admin_display import health_badge, quota_bar, quota_chart
from channels.errors import ChannelError
from channels.onedrive import connection, endpoints, oauth
from channels.onedrive.forms import OneDriveChannelForm
from channels.onedrive.models import OneDriveChannel, settings_of


@admin.register(OneDriveChannel)
class OneDriveChannelAdmin(admin.ModelAdmin):
    form = OneDriveChannelForm
    list_display = ["name", "account", "health_badge", "quota", "enabled"]
    list_filter = ["health", "enabled", "onedrive_settings__cloud"]
    list_select_related = ["onedrive_settings"]
    search_fields = ["name", "onedrive_settings__account_name", "onedrive_settings__account_email", "note"]
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
    # In the setup guide's order: the redirect URI is registered in Microsoft
    # Entra before anything here is filled in, then step 6's fields, with Get
    # Token (step 7) under Refresh Token.
    fieldsets = [
        ("Register this app in Microsoft Entra", {"fields": ["redirect_uri"]}),
        (
            "OneDrive channel",
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
                    "cloud",
                    "enabled",
                ]
            },
        ),
        ("Serving", {"fields": ["serve_mode"]}),
        ("Status", {"fields": ["account", "health_badge", "last_error", "quota", "quota_history"]}),
    ]

    class Media:
        js = ["channels/copy.js", "channels/get_token.js"]

    def has_module_permission(self, request):
        return False  # listed with every other kind under Channels

    @admin.display(description="Account")
    def account(self, obj):
        onedrive = settings_of(obj)
        if not onedrive.account_name and not onedrive.account_email:
            return "—"
        return format_html(
            "{} <span class='account-email'>&lt;{}&gt;</span>", onedrive.account_name, onedrive.account_email
        )

    @admin.display(description="Health", ordering="health")
    def health_badge(self, obj):
        return health_badge(obj)

    @admin.display(description="Quota")
    def quota(self, obj):
        return quota_bar(obj)

    @admin.display(description="Used space over time")
    def quota_history(self, obj):
        return quota_chart(list(obj.quota_samples.order_by("-taken_at")[:200])[::-1]) if obj.pk else "—"

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # Nothing to show about a channel that does not exist yet.
            return [fieldset for fieldset in self.fieldsets if fieldset[0] != "Status"]
        return self.fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Django shows a readonly field's help from the form's help_texts, in
        # the same place and style as every other field's help.
        saved = obj is not None and obj.pk is not None
        kwargs["help_texts"] = {
            "redirect_uri": "Register this exact URI in Microsoft Entra: platform Web, under "
            "App registrations › New registration, or the app's Authentication page.",
            "get_token_button": "Get Token opens Microsoft's sign-in in a new tab with the Client ID, "
            "Client Secret and Tenant ID above and the Cloud below (they need not be saved yet). The "
            "callback page shows the refresh token: copy it into Refresh Token and save"
            + (", or click its Save button. Test connection checks the saved token." if saved else "."),
            **kwargs.get("help_texts", {}),
        }
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description="Redirect URI")
    def redirect_uri(self, obj):
        return format_html(
            '<code id="redirect-uri">{}</code> <button type="button" class="button" data-copy="#redirect-uri">'
            "Copy</button>",
            endpoints.redirect_uri(),
        )

    @admin.display(description="Connect OneDrive")
    def get_token_button(self, obj):
        saved = obj is not None and obj.pk is not None
        return format_html(
            '<button type="button" class="button" id="get-token" data-start-url="{}" data-channel-id="{}">'
            "Get Token</button>{}",
            reverse("onedrive_oauth_start"),
            obj.pk if saved else "",
            format_html(
                ' <button type="submit" class="button" id="test-connection" formaction="{}">Test connection</button>',
                reverse("admin:channels_onedrivechannel_test_connection", args=[obj.pk]),
            )
            if saved
            else "",
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
            done = probes.check(channel.pk)
        except ChannelError as exc:
            self.message_user(request, f"{channel.name}: {exc}", messages.ERROR)
            return False
        checked = OneDriveChannel.objects.get(pk=channel.pk)
        self.message_user(
            request,
            f"{checked.name}: {done}; "
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
        onedrive = settings_of(channel)
        if not onedrive.client_id or not onedrive.has_client_secret:
            self.message_user(
                request, f"{channel.name}: fill in Client ID and Client Secret first.", messages.ERROR
            )
            return None
        try:
            auth_uri = oauth.begin(
                request.session,
                client_id=onedrive.client_id,
                client_secret=onedrive.client_secret,
                tenant=onedrive.tenant_id,
                cloud=onedrive.cloud,
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
        form.save_settings(obj)
        # A pasted refresh token is proved at once, so the list shows the account and quota.
        if form.cleaned_data.get("refresh_token"):
            request._channel_saved = self._saved_and_checked(obj)

    def _saved_and_checked(self, channel):
        """The one message for a save that checked the connection, with its level."""
        name = format_html(
            "<a href='{}'>{}</a>",
            reverse("admin:channels_onedrivechannel_change", args=[channel.pk]),
            channel.name,
        )
        try:
            checked = connection.check_connection(channel.pk)
        except ChannelError as exc:
            # A permanent error already says what to change; a passing one only needs asking again.
            then = (
                ""
                if exc.permanent
                else " The token is kept: when that is fixed, click Test connection on the channel's page."
            )
            return (
                format_html(
                    "The OneDrive channel “{}” was saved, but its connection could not be checked: {}{}",
                    name,
                    str(exc),
                    then,
                ),
                messages.WARNING,
            )
        account = settings_of(checked)
        return (
            format_html(
                "The OneDrive channel “{}” was saved and is connected as {} ({}); {} of {} used.",
                name,
                account.account_name,
                account.account_email,
                filesizeformat(checked.quota_used or 0),
                filesizeformat(checked.quota_total or 0),
            ),
            messages.SUCCESS,
        )

    def message_user(self, request, message, level=messages.INFO, extra_tags="", fail_silently=False):
        # A save shows one outcome: Django's "was changed successfully" gives way
        # to the message that says how the connection check went.
        saved = getattr(request, "_channel_saved", None)
        if saved is not None and level == messages.SUCCESS:
            request._channel_saved = None
            message, level = saved
        super().message_user(request, message, level, extra_tags, fail_silently)
