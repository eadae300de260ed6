"""Start-up refuses to run without its secrets when DEBUG is off."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start(env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "IMGBED_ENCRYPTION_KEYS")}
    env.update({"IMGBED_DATA_DIR": str(tmp_path), **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_debug_off_without_keys_names_the_missing_variables(tmp_path):
    result = start({"DEBUG": "false"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY, IMGBED_ENCRYPTION_KEYS must be set when DEBUG is off" in result.stderr


def test_debug_off_with_only_the_secret_key_names_the_encryption_keys(tmp_path):
    result = start({"DEBUG": "false", "SECRET_KEY": "x" * 50}, tmp_path)
    assert result.returncode != 0
    assert "IMGBED_ENCRYPTION_KEYS must be set" in result.stderr
    assert "SECRET_KEY," not in result.stderr


def test_secret_from_a_file(tmp_path, new_key):
    key_file = tmp_path / "keys"
    key_file.write_text(new_key + "\n")
    result = start(
        {"DEBUG": "false", "SECRET_KEY": "x" * 50, "IMGBED_ENCRYPTION_KEYS_FILE": str(key_file)}, tmp_path
    )
    assert result.returncode == 0, result.stderr


def test_laptop_defaults_generate_dev_keys_into_the_data_dir(tmp_path):
    result = start({"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    generated = (tmp_path / "dev-secrets.env").read_text()
    assert "IMGBED_ENCRYPTION_KEYS=" in generated
    assert oct((tmp_path / "dev-secrets.env").stat().st_mode & 0o777) == "0o600"


def test_empty_database_and_broker_variables_mean_the_laptop_defaults(tmp_path):
    probe = (
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"
    )
    env = {**os.environ, "IMGBED_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]
