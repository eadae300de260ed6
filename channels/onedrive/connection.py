"""Keeping a OneDrive channel's tokens, account and quota up to date.

Refresh tokens rotate on every use and the previous one stops working, so
a redemption and the storing of its result happen under the channel's row
lock: exactly one process redeems, the others read what it stored. The
tokens and the account live in the channel's OneDriveSettings; health and
quota on the channel row. Each writer saves only the fields it owns.
"""

import datetime
import hashlib
import hmac
import logging
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils import timezone

from channels import health
from channels.errors import ChannelError, ConfigurationError, ReauthorizationRequired
from channels.models import Channel, QuotaSample
from channels.onedrive import endpoints, identity
from channels.onedrive.graph import AccessTokenExpired, Graph
from channels.onedrive.models import OneDriveSettings, settings_of

log = logging.getLogger(__name__)

# Refresh an access token this long before Microsoft says it expires.
EXPIRY_MARGIN = datetime.timedelta(minutes=5)


def _credentials(onedrive: OneDriveSettings):
    return dict(
        client_id=onedrive.client_id,
        client_secret=onedrive.client_secret,
        tenant=onedrive.tenant_id,
        cloud=onedrive.cloud,
    )


def store_tokens(onedrive: OneDriveSettings, tokens: identity.Tokens) -> None:
    """Put a token response on the settings row (the caller saves)."""
    onedrive.refresh_token = tokens.refresh_token
    onedrive.access_token = tokens.access_token
    onedrive.access_token_expires_at = tokens.expires_at


def _is_fresh(onedrive: OneDriveSettings) -> bool:
    return (
        onedrive.access_token_expires_at is not None
        and onedrive.access_token_expires_at - EXPIRY_MARGIN > timezone.now()
        and onedrive.has_access_token
    )


def _fresh_access_token(channel_id: int) -> str | None:
    onedrive = (
        OneDriveSettings.objects.filter(channel_id=channel_id)
        .select_related("channel")
        .only("access_token", "access_token_expires_at", "channel__health")
        .first()
    )
    if onedrive is None or onedrive.channel.health == Channel.Health.NEEDS_REAUTH or not _is_fresh(onedrive):
        return None
    return onedrive.access_token


def fingerprint(token: str) -> str:
    """What stands for an access token where the token itself must not go (a task's arguments
    are kept in the broker and in the result backend)."""
    return hashlib.sha256(token.encode()).hexdigest()


def stored_token_with_fingerprint(channel_id: int, token_fingerprint: str) -> str | None:
    """The channel's stored access token if it is the one `token_fingerprint` stands for."""
    onedrive = OneDriveSettings.objects.filter(channel_id=channel_id).only("access_token").first()
    if onedrive is None or not onedrive.has_access_token:
        return None
    token = onedrive.access_token
    return token if hmac.compare_digest(fingerprint(token), token_fingerprint) else None


def access_token(channel_id: int, *, force: bool = False, stale: str | None = None) -> str:
    """A valid access token for the channel, redeeming its refresh token when needed.

    `force` redeems even when the cached access token looks valid (to prove the
    refresh token still works). `stale` is a token Graph just refused: it is
    replaced unless another process already did so while this one waited.
    A channel known to need re-authorisation is not retried unless forced, so
    a dead grant does not turn every task into a failing call to Microsoft.
    """
    if not force and stale is None:
        # Nearly always the cached token is still good: read it without taking the row lock.
        token = _fresh_access_token(channel_id)
        if token:
            return token
    return _redeem(channel_id, force=force, stale=stale).access_token


@dataclass(frozen=True)
class KeepAlive:
    """What one keep-alive round did for a channel."""

    refreshed: bool
    refreshed_at: datetime.datetime | None
    access_token: str


def keep_alive(channel_id: int, not_within: datetime.timedelta) -> KeepAlive:
    """Redeem the refresh token (so it never reaches Microsoft's 90-day inactivity
    limit) unless it was redeemed within `not_within`, by any process."""
    return _redeem(channel_id, force=True, unless_refreshed_within=not_within)


def _redeem(
    channel_id: int,
    *,
    force: bool = False,
    stale: str | None = None,
    unless_refreshed_within: datetime.timedelta | None = None,
) -> KeepAlive:
    failure = None
    with transaction.atomic():
        # The channel's row lock serialises redemptions; its settings row is locked too,
        # so what is read there is what the last redemption stored.
        channel = Channel.objects.select_for_update().get(pk=channel_id)
        onedrive = OneDriveSettings.objects.select_for_update().filter(channel=channel).first()
        if onedrive is None:
            onedrive = OneDriveSettings(channel=channel)  # nothing entered yet; never saved here
        kept = KeepAlive(False, onedrive.token_refreshed_at, "")
        if (
            unless_refreshed_within is not None
            and onedrive.token_refreshed_at
            and onedrive.token_refreshed_at > timezone.now() - unless_refreshed_within
            and onedrive.has_access_token
        ):
            return replace(kept, access_token=onedrive.access_token)
        if channel.health == Channel.Health.NEEDS_REAUTH and not force:
            raise ReauthorizationRequired(channel.last_error or "The channel needs Get Token again.")
        if _is_fresh(onedrive) and not force and (stale is None or onedrive.access_token != stale):
            return replace(kept, access_token=onedrive.access_token)
        if not onedrive.has_refresh_token:
            failure = ReauthorizationRequired(
                "The channel has no refresh token yet. Click Get Token to connect it."
            )
        elif not onedrive.client_id or not onedrive.has_client_secret:
            failure = ConfigurationError("Fill in the Client ID and Client Secret, then click Get Token.")
        else:
            try:
                tokens = identity.redeem_refresh_token(onedrive.refresh_token, **_credentials(onedrive))
            except ChannelError as exc:
                failure = exc
            else:
                store_tokens(onedrive, tokens)
                onedrive.token_refreshed_at = timezone.now()
                onedrive.save(update_fields=OneDriveSettings.TOKEN_FIELDS)
                if channel.health in (Channel.Health.DEGRADED, Channel.Health.ERROR):
                    # The identity platform answered: whatever failed before has passed.
                    channel.health, channel.last_error = Channel.Health.CONNECTED, ""
                    channel.save(update_fields=["health", "last_error", "updated_at"])
                log.info("channel %s: refresh token redeemed and rotated", channel_id)
                return KeepAlive(True, onedrive.token_refreshed_at, tokens.access_token)
    # Outside the transaction: the failure is recorded even though nothing else changed.
    health.record_failure(channel_id, failure)
    log.warning("channel %s: token refresh failed: %s", channel_id, failure)
    raise failure


def graph_for(channel: Channel, token: str) -> Graph:
    return Graph(endpoints.graph_base(settings_of(channel).cloud), token)


QUOTA_FIELDS = [
    "quota_total",
    "quota_used",
    "quota_remaining",
    "quota_deleted",
    "quota_state",
    "quota_read_at",
]


def apply_drive(channel: Channel, drive: dict) -> None:
    quota = drive.get("quota") or {}
    channel.quota_total = quota.get("total")
    channel.quota_used = quota.get("used")
    channel.quota_remaining = quota.get("remaining")
    channel.quota_deleted = quota.get("deleted")
    channel.quota_state = quota.get("state") or ""
    channel.quota_read_at = timezone.now()


def apply_account(onedrive: OneDriveSettings, me: dict) -> None:
    onedrive.account_name = (me.get("displayName") or "")[:200]
    onedrive.account_email = (me.get("mail") or me.get("userPrincipalName") or "")[:320]


def read_account_and_drive(graph: Graph) -> tuple[dict, dict]:
    return graph.me(), graph.drive()


def check_connection(channel_id: int) -> Channel:
    """Redeem the refresh token, read /me and /me/drive, and record what was found.

    Raises the channel error after recording it; returns the updated channel, its
    onedrive_settings (with the account) loaded.
    """
    try:
        token = access_token(channel_id, force=True)
        channel = Channel.objects.select_related("onedrive_settings").get(pk=channel_id)
        try:
            me, drive = read_account_and_drive(graph_for(channel, token))
        except AccessTokenExpired:
            token = access_token(channel_id, force=True)
            me, drive = read_account_and_drive(graph_for(channel, token))
    except ChannelError as exc:
        health.record_failure(channel_id, exc)
        raise
    connected(channel, me, drive)
    return channel


def connected(channel: Channel, me: dict, drive: dict) -> None:
    """Record a working connection: the account on the settings row, quota and health on the channel."""
    onedrive = channel.onedrive_settings
    apply_account(onedrive, me)
    onedrive.save(update_fields=OneDriveSettings.ACCOUNT_FIELDS)
    apply_drive(channel, drive)
    channel.health = Channel.Health.CONNECTED
    channel.last_error = ""
    channel.checked_at = timezone.now()
    channel.save(update_fields=[*QUOTA_FIELDS, "health", "last_error", "checked_at", "updated_at"])
    _sample(channel)


def pull_quota(channel_id: int) -> Channel:
    """Read /me/drive, store the figures and a history sample."""
    try:
        token = access_token(channel_id)
        channel = Channel.objects.select_related("onedrive_settings").get(pk=channel_id)
        try:
            drive = graph_for(channel, token).drive()
        except AccessTokenExpired:
            drive = graph_for(channel, access_token(channel_id, stale=token)).drive()
    except ChannelError as exc:
        health.record_failure(channel_id, exc)
        raise
    apply_drive(channel, drive)
    channel.save(update_fields=[*QUOTA_FIELDS, "updated_at"])
    _sample(channel)
    health.record_success(channel_id)
    return channel


def _sample(channel):
    if channel.quota_total is not None and channel.quota_used is not None:
        QuotaSample.objects.create(
            channel=channel,
            total=channel.quota_total,
            used=channel.quota_used,
            remaining=channel.quota_remaining,
            state=channel.quota_state,
        )
