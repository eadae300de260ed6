"""manage.py channels: list, add, test, disable, with errors that name the bad field."""

import pytest
from django.core.management import CommandError, call_command

from channels.local.models import LocalSettings
from channels.models import Channel
from channels.onedrive.models import OneDriveSettings

pytestmark = pytest.mark.django_db


def run(capsys, *args):
    call_command("channels", *args)
    return capsys.readouterr().out


def test_add_list_test_disable_a_local_channel(capsys, tmp_path):
    assert "No channels yet" in run(capsys, "list")
    out = run(capsys, "add", "local", "--name", "Disk", "--set", f"path={tmp_path}", "--set", "priority=5")
    assert "Added the local channel Disk." in out and "Disk: works: wrote, read back and deleted" in out
    channel = Channel.objects.get(name="Disk")
    assert (channel.kind, channel.priority, channel.health) == ("local", 5, Channel.Health.CONNECTED)
    assert LocalSettings.objects.get(channel=channel).path == str(tmp_path)
    listing = run(capsys, "list")
    assert "Disk  [local]  Connected" in listing and "priority 5" in listing
    assert "works" in run(capsys, "test", "Disk")
    assert "disabled" in run(capsys, "disable", "Disk")
    assert not Channel.objects.get(name="Disk").enabled
    run(capsys, "enable", "Disk")
    assert Channel.objects.get(name="Disk").enabled


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "path=relative"], "path: Give an absolute folder"),
        (["--set", "path=/srv/x", "--set", "colour=red"], "no setting colour"),
        (["--set", "path=/srv/x", "--set", "weight=many"], "weight: Enter a whole number"),
        (["--set-file", "path=/nonexistent/file"], "--set-file path: cannot read /nonexistent/file"),
        (["--set-env", "path=IMGBED_TEST_UNSET_VARIABLE"], "IMGBED_TEST_UNSET_VARIABLE is not set"),
        (["--set", "novalue"], "--set takes KEY=VALUE"),
    ],
)
def test_bad_settings_name_the_field_and_add_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("channels", "add", "local", "--name", "Disk", *args)
    assert not Channel.objects.exists()


def test_settings_from_a_file_and_the_environment(capsys, tmp_path, monkeypatch):
    (tmp_path / "path.txt").write_text(f"{tmp_path}/files\n")
    monkeypatch.setenv("IMGBED_TEST_NOTE", "from the environment")
    run(
        capsys,
        "add",
        "local",
        "--name",
        "Disk",
        "--set-file",
        f"path={tmp_path}/path.txt",
        "--set-env",
        "note=IMGBED_TEST_NOTE",
        "--no-test",
    )
    channel = Channel.objects.get()
    assert channel.note == "from the environment"
    assert LocalSettings.objects.get(channel=channel).path == f"{tmp_path}/files"


def test_unknown_channel_names_the_known_ones(tmp_path, capsys):
    run(capsys, "add", "local", "--name", "Disk", "--set", f"path={tmp_path}", "--no-test")
    with pytest.raises(CommandError, match=r"No channel is named 'Nope' \(channels: Disk\)"):
        call_command("channels", "test", "Nope")


def test_add_a_onedrive_channel_with_secrets_from_files(capsys, tmp_path, entra_app, emulator, ada):
    (tmp_path / "secret").write_text(entra_app.client_secret + "\n")
    (tmp_path / "token").write_text(emulator.issue_refresh_token(entra_app, ada))
    out = run(
        capsys,
        "add",
        "onedrive",
        "--name",
        "Main OneDrive",
        "--set",
        f"client_id={entra_app.client_id}",
        "--set-file",
        f"client_secret={tmp_path}/secret",
        "--set-file",
        f"refresh_token={tmp_path}/token",
    )
    assert "Added the onedrive channel Main OneDrive." in out
    assert (
        "Main OneDrive: works: connected as Ada Lovelace (ada@example.com); wrote, read back and deleted "
        "a test file in imgbed." in out
    )
    channel = Channel.objects.get(name="Main OneDrive")
    signin = OneDriveSettings.objects.get(channel=channel)
    assert (channel.kind, channel.health) == ("onedrive", Channel.Health.CONNECTED)
    assert (signin.client_id, signin.tenant_id, signin.cloud) == (entra_app.client_id, "consumers", "global")
    assert signin.client_secret == entra_app.client_secret
    assert signin.account_name == "Ada Lovelace"


def test_a_bad_onedrive_setting_names_the_field_and_adds_nothing(tmp_path, entra_app):
    (tmp_path / "secret").write_text(entra_app.client_secret)
    with pytest.raises(CommandError, match="tenant_id: Tenant ID must be consumers"):
        call_command(
            "channels",
            "add",
            "onedrive",
            "--name",
            "Main OneDrive",
            "--set",
            f"client_id={entra_app.client_id}",
            "--set",
            "tenant_id=contoso.com",
            "--set-file",
            f"client_secret={tmp_path}/secret",
        )
    assert not Channel.objects.exists() and not OneDriveSettings.objects.exists()
