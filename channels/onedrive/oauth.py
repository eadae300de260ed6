"""Get Token: the authorization-code flow, kept server-side in the staff member's session.

The msal flow (state, PKCE verifier, nonce) and the credentials it was
started with live in the session, keyed by state and popped once. The
client secret and any token put there are encrypted first, because session
rows are only signed, not encrypted.
"""

import secrets
import time

from django.contrib.sessions.backends.base import SessionBase

from channels import crypto
from channels.onedrive import identity

FLOWS_KEY = "onedrive_oauth_flows"
USED_KEY = "onedrive_oauth_used_states"
RESULTS_KEY = "onedrive_oauth_results"

# Microsoft's codes live about 10 minutes; a sign-in left open longer is stale.
FLOW_LIFETIME = 15 * 60
RESULT_LIFETIME = 15 * 60
MAX_PENDING = 10


class FlowError(Exception):
    """The callback cannot be matched to a sign-in this session started."""


def begin(session: SessionBase, *, client_id, client_secret, tenant, cloud, channel_id=None) -> str:
    """Start a sign-in and return the URL to send the browser to."""
    flow = identity.start_sign_in(client_id, client_secret, tenant, cloud)
    flows = _fresh(session.get(FLOWS_KEY, {}), FLOW_LIFETIME)
    flows[flow["state"]] = {
        "flow": flow,
        "client_id": client_id,
        "client_secret": crypto.encrypt(client_secret),
        "tenant": tenant,
        "cloud": cloud,
        "channel_id": channel_id,
        "created": time.time(),
    }
    # Keep the newest few: each Get Token click adds one.
    session[FLOWS_KEY] = dict(sorted(flows.items(), key=lambda kv: kv[1]["created"])[-MAX_PENDING:])
    return flow["auth_uri"]


def _fresh(entries: dict, lifetime: float) -> dict:
    now = time.time()
    return {k: v for k, v in entries.items() if now - v["created"] < lifetime}


def pop_flow(session: SessionBase, state: str | None) -> dict:
    """The pending sign-in for this state, removed so it can be used only once."""
    if not state:
        raise FlowError(
            "The answer from Microsoft carries no state, so it cannot be matched to a sign-in started "
            "here. Start again with Get Token on the channel's page."
        )
    flows = session.get(FLOWS_KEY, {})
    entry = flows.pop(state, None)
    session[FLOWS_KEY] = flows
    if entry is None:
        if state in session.get(USED_KEY, []):
            raise FlowError(
                "This sign-in answer was already used (the page was reloaded or opened twice). The refresh "
                "token it gave is on the first page; if you lost it, click Get Token again."
            )
        raise FlowError(
            "This sign-in was not started in this browser session, or the session ended. Sign in to the "
            "admin in this browser and click Get Token again."
        )
    session[USED_KEY] = (session.get(USED_KEY, []) + [state])[-20:]
    if time.time() - entry["created"] > FLOW_LIFETIME:
        raise FlowError(
            f"The sign-in took longer than {FLOW_LIFETIME // 60} minutes and has expired. Click Get Token again."
        )
    entry["client_secret"] = crypto.decrypt(
        entry["client_secret"], what="the client secret of a pending sign-in"
    )
    return entry


def keep_result(
    session: SessionBase, channel_id: int, tokens: identity.Tokens, flow: dict, me: dict, drive: dict
):
    """Hold a successful sign-in for the Save button; returns the key the page posts back."""
    key = secrets.token_urlsafe(16)
    results = _fresh(session.get(RESULTS_KEY, {}), RESULT_LIFETIME)
    results[key] = {
        "channel_id": channel_id,
        "refresh_token": crypto.encrypt(tokens.refresh_token),
        "access_token": crypto.encrypt(tokens.access_token),
        "expires_at": tokens.expires_at.timestamp(),
        "client_id": flow["client_id"],
        "client_secret": crypto.encrypt(flow["client_secret"]),
        "tenant": flow["tenant"],
        "cloud": flow["cloud"],
        "me": me,
        "drive": drive,
        "created": time.time(),
    }
    session[RESULTS_KEY] = results
    return key


def pop_result(session: SessionBase, key: str) -> dict | None:
    results = _fresh(session.get(RESULTS_KEY, {}), RESULT_LIFETIME)
    entry = results.pop(key, None)
    session[RESULTS_KEY] = results
    if entry is None:
        return None
    for name in ("refresh_token", "access_token", "client_secret"):
        entry[name] = crypto.decrypt(entry[name], what="a pending sign-in result")
    return entry
