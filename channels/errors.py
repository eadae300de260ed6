"""Errors a channel backend raises, split the way callers must treat them."""

# Permanent for the whole channel, not only for one file: another channel may take the file.
CHANNEL_WIDE_CODES = frozenset({"quotaLimitReached", "accessDenied", "bucketNotFound", "badConfig"})


class ChannelError(Exception):
    """Something went wrong talking to a channel. `str(err)` is for people."""

    permanent = False
    channel_wide = False

    def __init__(self, message, *, retry_after=None, code=""):
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code


# A channel's "slow down", whoever's request met it: Graph's, S3's and WebDAV's throttling codes.
THROTTLE_CODES = frozenset(
    {"throttled", "activityLimitReached", "tooManyRequests", "SlowDown", "Throttling", "ThrottlingException"}
)


class TransientError(ChannelError):
    """Retry later: network trouble, throttling, a 5xx. `retry_after` in seconds when known."""

    @property
    def pauses_channel(self) -> bool:
        """Whether the whole channel should wait: it throttles, or said how long to wait."""
        return self.retry_after is not None or self.code in THROTTLE_CODES


class PermanentError(ChannelError):
    """Retrying as is cannot help: a person must change something."""

    permanent = True

    @property
    def channel_wide(self) -> bool:
        return self.code in CHANNEL_WIDE_CODES


class ReauthorizationRequired(PermanentError):
    """The refresh token is no longer accepted: Get Token must be run again."""

    channel_wide = True


class ConfigurationError(PermanentError):
    """The channel's settings are wrong (client ID, secret, tenant)."""

    channel_wide = True
