"""Keeping a OneDrive channel's tokens, account and quota up to date.

Refresh tokens rotate on every use and the previous one stops working, so
a redemption and the storing of its result happen under the channel's row
lock: exactly one process redeems, the others read what it stored.
"""

import datetime
import logging
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils import timezone

from channels import health
from channels.errors import ChannelError, ConfigurationError, ReauthorizationRequired
from channels.models import Channel, QuotaSample
from channels.onedrive import endpoints, identity
from channels.onedrive.graph import AccessTokenExpired, Graph

log = logging.getLogger(__name__)

# Refresh an access token this long before Microsoft says it expires.
EXPIRY_MARGIN = datetime.timedelta(minutes=5)


def _credentials(channel):
    return dict(
        client_id=channel.client_id,
        client_secret=channel.client_secret,
        tenant=channel.tenant_id,
        cloud=channel.cloud,
    )


def store_tokens(channel: Channel, tokens: identity.Tokens) -> None:
    """Put a token response on the row (the caller saves)."""
    channel.refresh_token = tokens.refresh_token
    channel.access_token = tokens.access_token
    channel.access_token_expires_at = tokens.expires_at


def _is_fresh(channel) -> bool:
    return (
        channel.access_token_expires_at is not None
        and channel.access_token_expires_at - EXPIRY_MARGIN > timezone.now()
        and channel.has_access_token
    )


def _fresh_access_token(channel_id: int) -> str | None:
    channel = (
        Channel.objects.filter(pk=channel_id)
        .only("health", "access_token", "access_token_expires_at")
        .first()
    )
    if channel is None or channel.health == Channel.Health.NEEDS_REAUTH or not _is_fresh(channel):
        return None
    return channel.access_token


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
        channel = Channel.objects.select_for_update().get(pk=channel_id)
        kept = KeepAlive(False, channel.token_refreshed_at, "")
        if (
            unless_refreshed_within is not None
            and channel.token_refreshed_at
            and channel.token_refreshed_at > timezone.now() - unless_refreshed_within
            and channel.has_access_token
        ):
            return replace(kept, access_token=channel.access_token)
        if channel.health == Channel.Health.NEEDS_REAUTH and not force:
            raise ReauthorizationRequired(channel.last_error or "The channel needs Get Token again.")
        if _is_fresh(channel) and not force and (stale is None or channel.access_token != stale):
            return replace(kept, access_token=channel.access_token)
        if not channel.has_refresh_token:
            failure = ReauthorizationRequired(
                "The channel has no refresh token yet. Click Get Token to connect it."
            )
        elif not channel.client_id or not channel.has_client_secret:
            failure = ConfigurationError("Fill in the Client ID and Client Secret, then click Get Token.")
        else:
            try:
                tokens = identity.redeem_refresh_token(channel.refresh_token, **_credentials(channel))
            except ChannelError as exc:
                failure = exc
            else:
                store_tokens(channel, tokens)
                channel.token_refreshed_at = timezone.now()
                fields = ["refresh_token", "access_token", "access_token_expires_at", "token_refreshed_at"]
                if channel.health in (Channel.Health.DEGRADED, Channel.Health.ERROR):
                    # The identity platform answered: whatever failed before has passed.
                    channel.health, channel.last_error = Channel.Health.CONNECTED, ""
                    fields += ["health", "last_error"]
                channel.save(update_fields=[*fields, "updated_at"])
                log.info("channel %s: refresh token redeemed and rotated", channel_id)
                return KeepAlive(True, channel.token_refreshed_at, tokens.access_token)
    # Outside the transaction: the failure is recorded even though nothing else changed.
    health.record_failure(channel_id, failure)
    log.warning("channel %s: token refresh failed: %s", channel_id, failure)
    raise failure


def graph_for(channel: Channel, token: str) -> Graph:
    return Graph(endpoints.graph_base(channel.cloud), token)


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


def apply_account(channel: Channel, me: dict) -> None:
    channel.account_name = (me.get("displayName") or "")[:200]
    channel.account_email = (me.get("mail") or me.get("userPrincipalName") or "")[:320]


def read_account_and_drive(graph: Graph) -> tuple[dict, dict]:
    return graph.me(), graph.drive()


def check_connection(channel_id: int) -> Channel:
    """Redeem the refresh token, read /me and /me/drive, and record what was found.

    Raises the channel error after recording it; returns the updated channel.
    """
    try:
        token = access_token(channel_id, force=True)
        channel = Channel.objects.get(pk=channel_id)
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
    apply_account(channel, me)
    apply_drive(channel, drive)
    channel.health = Channel.Health.CONNECTED
    channel.last_error = ""
    channel.checked_at = timezone.now()
    fields = [
        "account_name",
        "account_email",
        *QUOTA_FIELDS,
        "health",
        "last_error",
        "checked_at",
        "updated_at",
    ]
    channel.save(update_fields=fields)
    _sample(channel)


def pull_quota(channel_id: int) -> Channel:
    """Read /me/drive, store the figures and a history sample."""
    try:
        token = access_token(channel_id)
        channel = Channel.objects.get(pk=channel_id)
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
