"""Get Token pages: start the sign-in, show its result, save it to a channel."""

import datetime
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from channels.errors import ChannelError
from channels.onedrive import connection, endpoints, identity, oauth
from channels.onedrive.graph import Graph
from channels.onedrive.models import OneDriveChannel, OneDriveSettings, settings_of, validate_tenant

log = logging.getLogger(__name__)

GET_TOKEN_FIELDS = [
    "client_id",
    "client_secret",
    "tenant_id",
    "cloud",
    "refresh_token",
    "access_token",
    "access_token_expires_at",
    "token_refreshed_at",
]


def _private(response):
    # The page may carry a refresh token: no caches, and no Referer to the next site.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def failure(request, title, message, status=400, channel=None):
    context = {
        "title": title,
        "message": message,
        "channel": channel,
        "redirect_uri": endpoints.redirect_uri(),
    }
    return _private(render(request, "channels/oauth_failed.html", context, status=status))


@sensitive_post_parameters("client_secret")
@sensitive_variables("secret")
@staff_member_required
@require_POST
def start(request):
    """Begin Get Token with the values of the channel form (saved or not)."""
    site = urlsplit(settings.SITE_URL)
    if request.get_host() != site.netloc or request.scheme != site.scheme:
        return failure(
            request,
            "Open the admin at the site's address",
            f"Microsoft sends the sign-in back to {endpoints.redirect_uri()}, and your admin session must be "
            f"at that address to receive it. Open {settings.SITE_URL}/admin/ and click Get Token there "
            "(or set SITE_URL to the address you use).",
        )
    channel = None
    if request.POST.get("channel_id"):
        channel = OneDriveChannel.objects.filter(pk=request.POST["channel_id"]).first()
        if channel is None:
            return failure(request, "Channel not found", "The channel no longer exists.", status=404)
    stored = settings_of(channel) if channel else None
    client_id = request.POST.get("client_id", "").strip() or (stored.client_id if stored else "")
    tenant = request.POST.get("tenant_id", "").strip() or (stored.tenant_id if stored else "")
    cloud = request.POST.get("cloud", "").strip() or (
        stored.cloud if stored else OneDriveSettings.Cloud.GLOBAL
    )
    secret = request.POST.get("client_secret", "").strip()
    if not secret and stored is not None and stored.has_client_secret:
        secret = stored.client_secret
    missing = [label for label, value in (("Client ID", client_id), ("Client Secret", secret)) if not value]
    if missing:
        return failure(
            request,
            "Fill in the form first",
            f"Get Token needs the {' and '.join(missing)}. Copy them from the app registration in "
            "Microsoft Entra into the channel form, then click Get Token again.",
            channel=channel,
        )
    try:
        validate_tenant(tenant)
    except ValidationError as exc:
        return failure(request, "Tenant ID is not valid", exc.messages[0], channel=channel)
    if cloud not in OneDriveSettings.Cloud.values:
        return failure(request, "Unknown cloud", "Choose Global, China or US Government.", channel=channel)
    try:
        auth_uri = oauth.begin(
            request.session,
            client_id=client_id,
            client_secret=secret,
            tenant=tenant,
            cloud=cloud,
            channel_id=channel.pk if channel else None,
        )
    except ChannelError as exc:
        return failure(request, "Cannot start the sign-in", str(exc), status=502, channel=channel)
    return redirect(auth_uri)


@sensitive_variables("entry", "tokens")
@require_GET
def callback(request):
    """Where Microsoft sends the browser back: redeem the code and show the refresh token."""
    if not (request.user.is_active and request.user.is_staff):
        return failure(
            request,
            "Sign in to the admin first",
            "Get Token works only for staff signed in to this site's admin, in the same browser. "
            "Sign in to the admin, then click Get Token again.",
            status=403,
        )
    params = request.GET
    try:
        entry = oauth.pop_flow(request.session, params.get("state"))
    except oauth.FlowError as exc:
        return failure(request, "Sign-in cannot be completed", str(exc))
    channel = OneDriveChannel.objects.filter(pk=entry["channel_id"]).first() if entry["channel_id"] else None

    if params.get("error"):
        if params["error"] in ("access_denied", "consent_required"):
            message = (
                "The sign-in was cancelled or the permissions were declined, so no token was issued "
                "and nothing was saved. Click Get Token again and choose Accept: the site needs "
                "Files.ReadWrite.All to store files, User.Read for the account and quota, and "
                "offline_access to keep working without you."
            )
        else:
            detail = (params.get("error_description") or "").splitlines()[0:1]
            message = f"Microsoft answered {params['error']}: {' '.join(detail)}. Nothing was saved."
        return failure(request, "Sign-in was not completed", message, channel=channel)
    if not params.get("code"):
        return failure(
            request,
            "Sign-in was not completed",
            "Microsoft sent no code. Click Get Token again.",
            channel=channel,
        )

    try:
        tokens = identity.finish_sign_in(
            entry["flow"],
            params.dict(),
            entry["client_id"],
            entry["client_secret"],
            entry["tenant"],
            entry["cloud"],
        )
        graph = Graph(endpoints.graph_base(entry["cloud"]), tokens.access_token)
        me, drive = connection.read_account_and_drive(graph)
    except identity.ServiceTrouble as exc:
        log.warning("Get Token failed: %s", exc)
        title = (
            "Microsoft's sign-in service did not answer"
            if exc.http_status == 504
            else "Microsoft's sign-in service could not be used"
        )
        return failure(request, title, str(exc), status=exc.http_status, channel=channel)
    except ChannelError as exc:
        log.info("Get Token failed: %s", exc)
        return failure(request, "Microsoft refused the sign-in", str(exc), channel=channel)

    save_key = oauth.keep_result(request.session, channel.pk, tokens, entry, me, drive) if channel else None
    context = {
        "title": "Refresh token",
        "refresh_token": tokens.refresh_token,
        "account_name": me.get("displayName", ""),
        "account_email": me.get("mail") or me.get("userPrincipalName") or "",
        "channel": channel,
        "save_key": save_key,
    }
    return _private(render(request, "channels/oauth_token.html", context))


@sensitive_variables("result")
@staff_member_required
@require_POST
def save(request):
    """The callback page's Save button: store the new token on the channel."""
    result = oauth.pop_result(request.session, request.POST.get("key", ""))
    if result is None:
        return failure(
            request,
            "Nothing to save",
            "This sign-in result was already saved or has expired. Click Get Token again.",
        )
    channel = OneDriveChannel.objects.filter(pk=result["channel_id"]).first()
    if channel is None:
        return failure(request, "Channel not found", "The channel no longer exists.", status=404)
    onedrive = settings_of(channel)
    # The token belongs to the app it was issued to: keep the credentials that produced it.
    onedrive.client_id = result["client_id"]
    onedrive.client_secret = result["client_secret"]
    onedrive.tenant_id = result["tenant"]
    onedrive.cloud = result["cloud"]
    onedrive.refresh_token = result["refresh_token"]
    onedrive.access_token = result["access_token"]
    onedrive.access_token_expires_at = datetime.datetime.fromtimestamp(result["expires_at"], tz=datetime.UTC)
    onedrive.token_refreshed_at = timezone.now()
    if onedrive._state.adding:
        onedrive.save()  # a channel saved before any of its sign-in was entered
    else:
        # Exactly the fields this sign-in owns: the account, health and quota are written by connected().
        onedrive.save(update_fields=GET_TOKEN_FIELDS)
    connection.connected(channel, result["me"], result["drive"])
    log.info("channel %s: refresh token saved from Get Token", channel.pk)
    messages.success(
        request,
        f"Connected {channel.name} to {onedrive.account_name or 'the account'} "
        f"({onedrive.account_email}). The refresh token is saved.",
    )
    location = reverse("admin:channels_onedrivechannel_change", args=[channel.pk])
    if "application/json" in request.headers.get("Accept", ""):
        # The page's script navigates itself, so the message is shown there.
        return JsonResponse({"location": location})
    return redirect(location)
