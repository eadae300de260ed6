"""The emulator against real clients: msal for sign-in, requests for Graph."""

import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import msal
import pytest
import requests

from channels.quickxorhash import quickxorhash_b64
from tests.emulator import CONSUMERS_TENANT_ID, SignInError, pkce_challenge

# Fixtures brought in by assignment: pytest finds them by name, and linters do
# not mistake each test's `emulator` argument for a shadowed import.

REDIRECT = "http://127.0.0.1:8000/api/oauth/onedrive/callback"
SCOPES = ["Files.ReadWrite.All", "User.Read"]
CHUNK = 320 * 1024


def cca(emu, app, tenant="consumers"):
    return msal.ConfidentialClientApplication(
        app.client_id,
        client_credential=app.client_secret,
        authority=f"{emu.base_url}/{tenant}",
        instance_discovery=False,
    )


def callback_params(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def error_code(response):
    body = response.json()
    return body["error"], body["error_codes"][0]


def graph(emu, app=None, user=None):
    app = app or emu.register_app(redirect_uris=[REDIRECT])
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + emu.issue_access_token(app, user)
    return s


def authorize_url(emu, app, tenant="consumers", **overrides):
    verifier = secrets.token_urlsafe(48)
    params = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "Files.ReadWrite.All User.Read offline_access openid profile",
        "state": "st4te",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    return f"{emu.base_url}/{tenant}/oauth2/v2.0/authorize?{urlencode(params)}", verifier


def redeem(emu, app, code, verifier, tenant="consumers", **overrides):
    data = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "scope": "Files.ReadWrite.All User.Read offline_access openid profile",
    }
    data.update(overrides)
    return requests.post(f"{emu.base_url}/{tenant}/oauth2/v2.0/token", data=data, timeout=10)


def refresh(emu, app, rt, secret=None, tenant="consumers"):
    data = {
        "client_id": app.client_id,
        "client_secret": secret or app.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": rt,
        "scope": "Files.ReadWrite.All User.Read offline_access",
    }
    return requests.post(f"{emu.base_url}/{tenant}/oauth2/v2.0/token", data=data, timeout=10)


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --- sign-in ---------------------------------------------------------------


def test_msal_auth_code_flow_then_graph(emulator):
    app = emulator.register_app(redirect_uris=[REDIRECT])
    client = cca(emulator, app)
    flow = client.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)

    page = requests.get(flow["auth_uri"], allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert 'id="accept"' in page.text and 'id="cancel"' in page.text
    assert "imgbed-onedrive" in page.text and "ada@example.com" in page.text

    back = emulator.consent(flow["auth_uri"])
    assert back.startswith(REDIRECT + "?")
    params = callback_params(back)
    assert params["state"] == flow["state"]

    result = client.acquire_token_by_auth_code_flow(flow, params)
    assert "error" not in result, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3599 and result["ext_expires_in"] == 3599
    assert result["refresh_token"]
    assert "." not in result["access_token"]  # opaque, not a JWT
    claims = result["id_token_claims"]
    assert claims["aud"] == app.client_id
    assert claims["tid"] == CONSUMERS_TENANT_ID
    assert claims["preferred_username"] == "ada@example.com"
    assert b64url_json(result["client_info"]) == {"uid": claims["oid"], "utid": CONSUMERS_TENANT_ID}

    headers = {"Authorization": "Bearer " + result["access_token"]}
    me = requests.get(f"{emulator.base_url}/v1.0/me", headers=headers, timeout=10).json()
    assert me["displayName"] == "Ada Lovelace" and me["userPrincipalName"] == "ada@example.com"
    drive = requests.get(f"{emulator.base_url}/v1.0/me/drive", headers=headers, timeout=10).json()
    assert drive["driveType"] == "personal"
    assert drive["quota"]["state"] == "normal"

    # Rotation through msal: the new refresh token works, the old one is dead.
    renewed = client.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert renewed["refresh_token"] != result["refresh_token"]
    again = client.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert again["error"] == "invalid_grant" and again["error_codes"] == [70008]
    assert "refresh_token" in client.acquire_token_by_refresh_token(renewed["refresh_token"], SCOPES)
    assert emulator.token_redemptions == 2
    assert emulator.valid_refresh_tokens == 1


def test_cancel_and_authorize_errors(emulator):
    app = emulator.register_app(redirect_uris=[REDIRECT])
    url, _ = authorize_url(emulator, app)
    back = emulator.consent(url, accept=False)
    params = callback_params(back)
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS65004")
    assert params["state"] == "st4te"

    cases = [
        (authorize_url(emulator, app, client_id="00000000-1111-2222-3333-444444444444")[0], 700016),
        (authorize_url(emulator, app, redirect_uri=REDIRECT + "/")[0], 50011),
        (
            authorize_url(
                emulator, emulator.register_app(redirect_uris=[REDIRECT], audience="organizations")
            )[0],
            9002332,
        ),
    ]
    tenant = "11111111-2222-3333-4444-555555555555"
    single = emulator.register_app(redirect_uris=[REDIRECT], audience=tenant)
    cases.append((authorize_url(emulator, single, tenant="common")[0], 50194))
    cases.append((authorize_url(emulator, app, tenant=tenant)[0], 9002332))
    for url, code in cases:
        page = requests.get(url, allow_redirects=False, timeout=10)
        assert page.status_code == 400 and "Location" not in page.headers
        with pytest.raises(SignInError) as err:
            emulator.consent(url)
        assert err.value.code == code
    # The single-tenant app is fine through its own directory.
    assert "code" in callback_params(emulator.consent(authorize_url(emulator, single, tenant=tenant)[0]))

    # Without PKCE the error goes back to the app (the redirect URI is trusted by then).
    page = requests.get(
        authorize_url(emulator, app, code_challenge=None)[0], allow_redirects=False, timeout=10
    )
    assert page.status_code == 302
    assert callback_params(page.headers["Location"])["error"] == "invalid_request"


def test_code_is_single_use_checked_and_expires(emulator):
    app = emulator.register_app(redirect_uris=[REDIRECT])
    url, verifier = authorize_url(emulator, app, nonce="n-123")
    code = callback_params(emulator.consent(url))["code"]

    wrong = redeem(emulator, app, code, verifier + "x")
    assert wrong.status_code == 400 and error_code(wrong) == ("invalid_grant", 501481)
    body = wrong.json()
    assert set(body) >= {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
    }
    assert "\r\nTrace ID: " in body["error_description"]
    assert (
        error_code(redeem(emulator, app, code, verifier, redirect_uri="http://evil/"))[0] == "invalid_grant"
    )

    ok = redeem(emulator, app, code, verifier)
    assert ok.status_code == 200
    token = ok.json()
    assert list(token)[:5] == ["token_type", "scope", "expires_in", "ext_expires_in", "access_token"]
    assert b64url_json(token["id_token"].split(".")[1])["nonce"] == "n-123"
    again = redeem(emulator, app, code, verifier)
    assert again.status_code == 400 and error_code(again) == ("invalid_grant", 54005)

    url, verifier = authorize_url(emulator, app)
    code = callback_params(emulator.consent(url))["code"]
    emulator.advance_clock(601)
    assert error_code(redeem(emulator, app, code, verifier)) == ("invalid_grant", 70000)


def test_client_authentication_failures(emulator):
    app = emulator.register_app(redirect_uris=[REDIRECT])
    rt = emulator.issue_refresh_token(app)

    wrong = refresh(emulator, app, rt, secret="not-the-secret")
    assert wrong.status_code == 401 and error_code(wrong) == ("invalid_client", 7000215)
    by_id = refresh(emulator, app, rt, secret=app.secret_id)
    assert error_code(by_id) == ("invalid_client", 7000215)
    assert app.secret_id != app.client_secret

    stranger = emulator.register_app(redirect_uris=[REDIRECT])
    stranger.client_id = "ffffffff-0000-0000-0000-000000000000"  # not registered under this id
    unknown = refresh(emulator, stranger, rt)
    assert unknown.status_code == 400 and error_code(unknown) == ("unauthorized_client", 700016)

    app.expire_secret()
    expired = refresh(emulator, app, rt)
    assert expired.status_code == 401 and error_code(expired) == ("invalid_client", 7000222)
    assert emulator.token_redemptions == 0


def test_revocation_codes_and_inactivity(emulator):
    app = emulator.register_app(redirect_uris=[REDIRECT])
    rt = emulator.issue_refresh_token(app)
    other = emulator.add_user("Grace Hopper", "grace@example.com")
    rt_other = emulator.issue_refresh_token(app, other)
    assert emulator.valid_refresh_tokens == 2

    assert emulator.revoke_grants(user=emulator.default_user, code=50173) == 1
    assert error_code(refresh(emulator, app, rt)) == ("invalid_grant", 50173)
    assert emulator.valid_refresh_tokens == 1

    emulator.advance_clock(91 * 86400)
    assert error_code(refresh(emulator, app, rt_other)) == ("invalid_grant", 700082)

    fresh = emulator.issue_refresh_token(app, other)
    assert refresh(emulator, app, fresh).status_code == 200


def test_msal_discovery_with_tenant_guid(emulator):
    tenant = "11111111-2222-3333-4444-555555555555"
    app = emulator.register_app(redirect_uris=[REDIRECT], audience=tenant)
    flow = cca(emulator, app, tenant).initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    assert flow["auth_uri"].startswith(f"{emulator.base_url}/{tenant}/oauth2/v2.0/authorize?")
    config = requests.get(
        f"{emulator.base_url}/consumers/v2.0/.well-known/openid-configuration", timeout=10
    ).json()
    assert config["issuer"] == f"{emulator.base_url}/{CONSUMERS_TENANT_ID}/v2.0"
    assert all(
        config[k].startswith("https://") for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
    )


# --- Graph -----------------------------------------------------------------


def test_graph_rejects_missing_unknown_and_expired_tokens(emulator):
    url = f"{emulator.base_url}/v1.0/me/drive"
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = requests.get(url, headers=headers, timeout=10)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    s = graph(emulator)
    assert s.get(url).status_code == 200
    emulator.expire_access_tokens()
    r = s.get(url)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Access token has expired or is not yet valid."
    assert set(r.json()["error"]["innerError"]) >= {"request-id", "date"}


def test_quota_states(emulator):
    s = graph(emulator)
    url = f"{emulator.base_url}/v1.0/me/drive"
    emulator.set_quota(total=1000, used=500)
    assert s.get(url).json()["quota"] == {
        "total": 1000,
        "used": 500,
        "remaining": 500,
        "deleted": 0,
        "state": "normal",
        "storagePlanInformation": {"upgradeAvailable": True},
    }
    emulator.set_quota(used=950)
    assert s.get(url).json()["quota"]["state"] == "nearing"
    emulator.set_quota(used=995)
    assert s.get(url).json()["quota"]["state"] == "critical"
    put = s.put(f"{emulator.base_url}/v1.0/me/drive/root:/x.bin:/content", data=b"z" * 5)
    assert put.status_code == 201
    quota = s.get(url).json()["quota"]
    assert quota["used"] == 1000 and quota["state"] == "exceeded"
    put = s.put(f"{emulator.base_url}/v1.0/me/drive/root:/y.bin:/content", data=b"z")
    assert put.status_code == 507 and put.json()["error"]["code"] == "quotaLimitReached"

    emulator.set_quota(total=10**9, used=0)
    emulator.set_drive_full(True)
    assert s.get(url).json()["quota"]["state"] == "exceeded"
    assert s.put(f"{emulator.base_url}/v1.0/me/drive/root:/y.bin:/content", data=b"z").status_code == 507
    session = s.post(f"{emulator.base_url}/v1.0/me/drive/root:/big.bin:/createUploadSession", json={})
    assert session.status_code == 507
    emulator.set_drive_full(False)
    assert s.put(f"{emulator.base_url}/v1.0/me/drive/root:/y.bin:/content", data=b"z").status_code == 201


def test_simple_upload_conflicts_paths_and_limits(emulator):
    s = graph(emulator)
    base = f"{emulator.base_url}/v1.0/me/drive/root:"
    path = "/imgbed/2026/11/my%20pic%20%C3%BC.png"
    r = s.put(f"{base}{path}:/content?@microsoft.graph.conflictBehavior=fail", data=b"one")
    assert r.status_code == 201
    item = r.json()
    assert item["name"] == "my pic ü.png" and item["size"] == 3
    assert item["parentReference"]["path"] == "/drive/root:/imgbed/2026/11"
    assert item["file"]["mimeType"] == "image/png"
    assert item["file"]["hashes"]["quickXorHash"] == quickxorhash_b64(b"one")
    assert item["file"]["hashes"]["sha256Hash"] == hashlib.sha256(b"one").hexdigest().upper()

    dup = s.put(f"{base}{path}:/content?@microsoft.graph.conflictBehavior=fail", data=b"two")
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "nameAlreadyExists"
    replaced = s.put(f"{base}{path}:/content?@microsoft.graph.conflictBehavior=replace", data=b"three")
    assert replaced.status_code == 200 and replaced.json()["id"] == item["id"]
    renamed = s.put(f"{base}{path}:/content?@microsoft.graph.conflictBehavior=rename", data=b"four")
    assert renamed.status_code == 201 and renamed.json()["name"] == "my pic ü 1.png"

    meta = s.get(f"{base}{path}:")
    assert meta.status_code == 200 and meta.json()["size"] == 5
    assert s.get(f"{base}/imgbed/2026:").json()["folder"] == {"childCount": 1}
    assert s.get(f"{base}/nope.png:").status_code == 404
    bad = s.put(f"{base}/a%3Fb.png:/content?@microsoft.graph.conflictBehavior=fail", data=b"x")
    assert bad.status_code == 400

    too_big = s.put(
        f"{base}/big.bin:/content?@microsoft.graph.conflictBehavior=fail", data=b"\0" * (4 * 1024 * 1024 + 1)
    )
    assert too_big.status_code == 413
    exact = s.put(
        f"{base}/edge.bin:/content?@microsoft.graph.conflictBehavior=fail", data=b"\0" * (4 * 1024 * 1024)
    )
    assert exact.status_code == 201

    files = {f.path: f for f in emulator.files()}
    assert files["/imgbed/2026/11/my pic ü.png"].read_bytes() == b"three"
    assert files["/imgbed/2026/11/my pic ü 1.png"].quickxorhash == quickxorhash_b64(b"four")


def test_upload_session_rules_and_resume(emulator):
    s = graph(emulator)
    data = os.urandom(3 * CHUNK + 1000)
    total = len(data)
    created = s.post(
        f"{emulator.base_url}/v1.0/me/drive/root:/imgbed/big.bin:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": "fail"}},
    )
    assert created.status_code == 200
    upload_url = created.json()["uploadUrl"]
    assert "/v1.0/" not in upload_url and upload_url.startswith(emulator.base_url)
    assert created.json()["expirationDateTime"].endswith("Z")

    def put(first, last, body=None, **headers):
        chunk = data[first : last + 1] if body is None else body
        h = {"Content-Range": f"bytes {first}-{last}/{headers.pop('total', total)}", **headers}
        return requests.put(upload_url, data=chunk, headers=h, timeout=10)

    with_auth = put(0, CHUNK - 1, Authorization=s.headers["Authorization"])
    assert with_auth.status_code == 401

    odd = put(0, CHUNK - 2)
    assert odd.status_code == 400 and odd.json()["error"]["innerError"]["code"] == "invalidFragmentSize"
    mismatch = put(0, CHUNK - 1, body=data[:100])
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["innerError"]["code"] == "fragmentLengthMismatch"

    first = put(0, 2 * CHUNK - 1)
    assert first.status_code == 202
    assert first.json()["nextExpectedRanges"] == [f"{2 * CHUNK}-"]

    overlap = put(CHUNK, 3 * CHUNK - 1)
    assert overlap.status_code == 416
    assert overlap.json()["error"]["code"] == "invalidRange"
    assert overlap.json()["error"]["innerError"]["code"] == "fragmentOverlap"
    gap = put(3 * CHUNK, total - 1)
    assert gap.status_code == 416 and gap.json()["error"]["innerError"]["code"] == "fragmentOutOfOrder"
    other_total = put(2 * CHUNK, 3 * CHUNK - 1, total=total + 1)
    assert other_total.status_code == 400

    status = requests.get(upload_url, timeout=10)
    assert status.status_code == 200 and status.json()["nextExpectedRanges"] == [f"{2 * CHUNK}-"]
    assert put(2 * CHUNK, 3 * CHUNK - 1).status_code == 202
    done = put(3 * CHUNK, total - 1)
    assert done.status_code == 201
    item = done.json()
    assert item["size"] == total
    assert item["file"]["hashes"]["quickXorHash"] == quickxorhash_b64(data)
    assert requests.get(upload_url, timeout=10).status_code == 404

    [stored] = emulator.files()
    assert stored.path == "/imgbed/big.bin" and stored.read_bytes() == data

    accepted = [e.byte_range for e in emulator.requests if e.kind == "upload_url" and e.status in (201, 202)]
    assert [(a, b) for a, b, _ in accepted] == [
        (0, 2 * CHUNK - 1),
        (2 * CHUNK, 3 * CHUNK - 1),
        (3 * CHUNK, total - 1),
    ]
    assert [e.authorization for e in emulator.requests if e.kind == "upload_url"].count(True) == 1


def test_upload_session_conflict_at_commit_cancel_and_expiry(emulator):
    s = graph(emulator)
    root = f"{emulator.base_url}/v1.0/me/drive/root:"
    assert (
        s.put(f"{root}/taken.png:/content?@microsoft.graph.conflictBehavior=fail", data=b"old").status_code
        == 201
    )

    def session(name, behaviour="fail"):
        r = s.post(
            f"{root}/{name}:/createUploadSession",
            json={"item": {"@microsoft.graph.conflictBehavior": behaviour}},
        )
        assert r.status_code == 200
        return r.json()["uploadUrl"]

    url = session("taken.png")
    r = requests.put(url, data=b"new", headers={"Content-Range": "bytes 0-2/3"}, timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"] == "nameAlreadyExists"

    url = session("taken.png", "replace")
    assert (
        requests.put(url, data=b"new!", headers={"Content-Range": "bytes 0-3/4"}, timeout=10).status_code
        == 200
    )
    assert [f.read_bytes() for f in emulator.files()] == [b"new!"]

    url = session("cancel.bin")
    assert requests.delete(url, timeout=10).status_code == 204
    assert requests.get(url, timeout=10).status_code == 404
    gone = requests.put(url, data=b"x", headers={"Content-Range": "bytes 0-0/1"}, timeout=10)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "itemNotFound"

    url = session("slow.bin")
    emulator.expire_upload_sessions()
    assert requests.get(url, timeout=10).status_code == 404


def test_download_redirect_ranges_and_delete(emulator):
    s = graph(emulator)
    data = bytes(range(256)) * 40
    item = s.put(
        f"{emulator.base_url}/v1.0/me/drive/root:/d/file.bin:/content?@microsoft.graph.conflictBehavior=fail",
        data=data,
    ).json()
    content = f"{emulator.base_url}/v1.0/me/drive/items/{item['id']}/content"
    r = s.get(content, allow_redirects=False)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert "/v1.0/" not in location

    whole = requests.get(location, timeout=10)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = requests.get(location, headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = requests.get(location, headers={"Range": "bytes=-5"}, timeout=10)
    assert tail.status_code == 206 and tail.content == data[-5:]
    beyond = requests.get(location, headers={"Range": f"bytes={len(data)}-"}, timeout=10)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    assert s.get(content).content == data  # following the redirect, as clients do

    meta = s.get(f"{emulator.base_url}/v1.0/me/drive/items/{item['id']}").json()
    assert requests.get(meta["@microsoft.graph.downloadUrl"], timeout=10).content == data
    emulator.advance_clock(3601)
    assert requests.get(location, timeout=10).status_code == 401
    emulator.advance_clock(-3601)

    assert s.delete(f"{emulator.base_url}/v1.0/me/drive/items/{item['id']}").status_code == 204
    again = s.delete(f"{emulator.base_url}/v1.0/me/drive/items/{item['id']}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "itemNotFound"
    assert requests.get(location, timeout=10).status_code == 404
    assert emulator.files() == []


# --- faults and the log ----------------------------------------------------


def test_fault_injection(emulator):
    app = emulator.register_app(redirect_uris=[REDIRECT])
    s = graph(emulator, app)
    url = f"{emulator.base_url}/v1.0/me/drive"

    emulator.faults.inject("graph", status=429, count=2, retry_after=3)
    for _ in range(2):
        r = s.get(url)
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"
        assert r.json()["error"]["code"] == "activityLimitReached"
    assert s.get(url).status_code == 200

    emulator.faults.inject("GET", path_regex=r"/me$", status=503, retry_after=None)
    assert s.get(url).status_code == 200  # the regex does not match /me/drive
    r = s.get(f"{emulator.base_url}/v1.0/me")
    assert r.status_code == 503 and "Retry-After" not in r.headers

    emulator.faults.inject("graph", status=401)
    r = s.get(url)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers

    rt = emulator.issue_refresh_token(app)
    emulator.faults.inject("token", status=429, retry_after=7)
    r = refresh(emulator, app, rt)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and "error_codes" in r.json()
    assert refresh(emulator, app, rt).status_code == 200  # the fault did not consume the token

    emulator.faults.inject("graph", status=0)
    with pytest.raises(requests.ConnectionError):
        s.get(url)
    assert s.get(url).status_code == 200

    emulator.faults.latency = 0.2
    started = time.monotonic()
    s.get(url)
    assert time.monotonic() - started >= 0.2
    emulator.faults.latency = 0.0

    injected = [e for e in emulator.requests if e.injected]
    assert [e.status for e in injected] == [429, 429, 503, 401, 429, 0]
    assert injected[0].retry_after == "3" and injected[0].authorization
    assert injected[4].kind == "token" and injected[4].grant_type == "refresh_token"
    emulator.clear_log()
    assert emulator.requests == []


def test_a_hanging_token_endpoint_answers_nothing_until_released(emulator):
    """For clients' timeouts: the request is held, the client gives up, the next one is served."""
    app = emulator.register_app(redirect_uris=[REDIRECT])
    rt = emulator.issue_refresh_token(app)
    rule = emulator.faults.inject("token", hang=True)
    with pytest.raises(requests.Timeout):
        requests.post(
            f"{emulator.base_url}/consumers/oauth2/v2.0/token",
            data={"grant_type": "refresh_token", "client_id": app.client_id, "refresh_token": rt},
            verify=emulator.ca_pem_path,
            timeout=1,
        )
    assert rule.hanging.is_set() and rule.fired == 1
    rule.release()
    assert refresh(emulator, app, rt).status_code == 200  # the held request consumed nothing


def test_fault_on_upload_url_keeps_no_bytes(emulator):
    s = graph(emulator)
    data = os.urandom(2 * CHUNK)
    url = s.post(f"{emulator.base_url}/v1.0/me/drive/root:/f.bin:/createUploadSession", json={}).json()[
        "uploadUrl"
    ]
    emulator.faults.inject("upload_url", status=503, retry_after=1)
    headers = {"Content-Range": f"bytes 0-{CHUNK - 1}/{len(data)}"}
    assert requests.put(url, data=data[:CHUNK], headers=headers, timeout=10).status_code == 503
    assert requests.get(url, timeout=10).json()["nextExpectedRanges"] == ["0-"]
    assert requests.put(url, data=data[:CHUNK], headers=headers, timeout=10).status_code == 202
    [info] = emulator.upload_sessions()
    assert info.received == CHUNK and info.ranges == ((0, CHUNK - 1),)


def test_reset_forgets_everything(emulator):
    app = emulator.register_app(redirect_uris=[REDIRECT])
    s = graph(emulator, app)
    s.put(f"{emulator.base_url}/v1.0/me/drive/root:/a.txt:/content", data=b"a")
    emulator.faults.inject("graph", status=500, count=5)
    emulator.reset()
    assert emulator.files() == [] and emulator.apps == [] and emulator.requests == []
    assert emulator.faults.pending == []
    assert s.get(f"{emulator.base_url}/v1.0/me").status_code == 401  # old tokens are gone


def test_run_by_hand():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "--port", "0", "--client-id", "cid-123"]
        + ["--client-secret", "s3cret", "--redirect-uri", REDIRECT],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        out = "".join(lines)
        env = dict(line.strip()[len("export ") :].split("=", 1) for line in lines if "export " in line)
        assert set(env) == {"ONEDRIVE_LOGIN_URL", "ONEDRIVE_GRAPH_URL", "REQUESTS_CA_BUNDLE"}
        assert "cid-123" in out
        config = requests.get(
            f"{env['ONEDRIVE_LOGIN_URL']}/consumers/v2.0/.well-known/openid-configuration",
            verify=env["REQUESTS_CA_BUNDLE"],
            timeout=10,
        )
        assert config.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
