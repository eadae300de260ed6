"""`python -m tests.emulator --storage-dir DIR` with a DIR that does not exist yet."""

import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.emulator import pkce_challenge, sign_in

ROOT = Path(__file__).resolve().parent.parent
REDIRECT = "http://localhost:8000/api/oauth/onedrive/callback"
SCOPES = "Files.ReadWrite.All User.Read offline_access openid profile"


@pytest.fixture
def emulator_process(tmp_path):
    storage = tmp_path / "not" / "made" / "yet"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "--port", "0", "--storage-dir", str(storage)]
        + ["--client-id", "cid-storage", "--client-secret", "s3cret", "--redirect-uri", REDIRECT],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # It prints what a client needs, then "Ctrl-C stops it." once it serves; on a failure, the traceback.
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        env = dict(line.strip()[len("export ") :].split("=", 1) for line in lines if "export " in line)
        assert "ONEDRIVE_GRAPH_URL" in env, "".join(lines)
        yield env, storage
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_storage_dir_is_made_and_takes_uploads(emulator_process):
    env, storage = emulator_process
    base, ca = env["ONEDRIVE_GRAPH_URL"], env["REQUESTS_CA_BUNDLE"]
    assert storage.is_dir()

    verifier = secrets.token_urlsafe(48)
    query = {
        "client_id": "cid-storage",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "state": "st",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    back = sign_in(f"{base}/consumers/oauth2/v2.0/authorize?{urlencode(query)}", verify=ca)
    code = parse_qs(urlsplit(back).query)["code"][0]
    tokens = requests.post(
        f"{base}/consumers/oauth2/v2.0/token",
        data={
            "client_id": "cid-storage",
            "client_secret": "s3cret",
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "scope": SCOPES,
        },
        verify=ca,
        timeout=10,
    ).json()

    put = requests.put(
        f"{base}/v1.0/me/drive/root:/imgbed/hello.txt:/content",
        data=b"hello",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        verify=ca,
        timeout=10,
    )
    assert put.status_code == 201, put.text
    assert [path.read_bytes() for path in storage.iterdir()] == [b"hello"]
