"""`manage.py check --deploy` with the README's production settings reports only what the README explains.

The settings are read from the README itself (the `export` lines of "Run it on PostgreSQL and
Redis with several workers"), so the test and the instructions cannot drift apart.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Run it on PostgreSQL and Redis with several workers"

# Each warning check --deploy may give with those settings, and the README's words that explain it.
EXPLAINED = {
    "security.W005": "HSTS does not cover subdomains (security.W005)",
    "security.W021": "ask to be preloaded into browsers (security.W021)",
}


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def production_env() -> dict:
    """The variables the section exports, with its placeholders (`...`) filled in as its comments say."""
    block = re.search(r"```sh\n(.*?)```", readme_section(), re.DOTALL).group(1)
    found = dict(re.findall(r"^export (\w+)=(\S*)", block, re.MULTILINE))
    fill = {"SECRET_KEY": secrets.token_urlsafe(50), "IMGBED_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    for name, value in found.items():
        if value == "...":
            assert name in fill, (
                f"the README leaves {name} as '...': the test does not know what to put there"
            )
            found[name] = fill[name]
    return found


def test_the_readme_names_the_settings_that_matter():
    env = production_env()
    assert env["DEBUG"] == "false"
    assert env["SITE_URL"].startswith("https://")
    assert {"SECRET_KEY", "IMGBED_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "SECURE_HSTS_SECONDS"} <= set(env)


def test_check_deploy_reports_nothing_the_readme_does_not_explain(tmp_path):
    # Only what a server would have: the README's variables on a bare environment (not the test
    # process's own, which the browser tests give DJANGO_ALLOW_ASYNC_UNSAFE, for one).
    bare = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env = {**bare, "IMGBED_DATA_DIR": str(tmp_path), **production_env()}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    reported = set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", output))
    unexplained = reported - set(EXPLAINED)
    assert not unexplained, f"check --deploy reports what the README does not explain:\n{output}"
    section = " ".join(readme_section().split())
    for check_id in reported:
        assert EXPLAINED[check_id] in section, f"the README no longer explains {check_id}"
    # Every error or warning line names its check: nothing else slipped through.
    lines = [line for line in output.splitlines() if line.startswith("?:") or ": (" in line]
    assert len(lines) == len(reported), output
