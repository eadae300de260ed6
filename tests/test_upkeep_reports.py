"""What the scheduled tasks say they did: refreshed, skipped (and when it is due) or failed,
in the command's output and on the operations page."""

import pytest
from django.core.management import CommandError, call_command

from channels.models import Channel
from channels.tasks import pull_quotas, refresh_tokens
from imgbed_site.models import ScheduledRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(channel, onedrive_settings):
    channel.health = Channel.Health.CONNECTED
    channel.save()
    return channel


def run_command(name, *args, capsys):
    call_command(name, *args)
    return capsys.readouterr().out


def test_refresh_tokens_says_refreshed_only_when_microsoft_was_called(connected, emulator, capsys):
    before = emulator.token_redemptions
    out = run_command("refresh_tokens", capsys=capsys)
    assert out.strip() == "Main OneDrive: refreshed."
    assert emulator.token_redemptions == before + 1

    for _ in range(3):
        out = run_command("refresh_tokens", capsys=capsys)
        assert "Main OneDrive: skipped, not due: refreshed" in out
        assert "due again in 11 hours" in out or "due again in 12 hours" in out
        assert "refreshed." not in out
    assert emulator.token_redemptions == before + 1

    out = run_command("refresh_tokens", "--force", capsys=capsys)
    assert out.strip() == "Main OneDrive: refreshed."
    assert emulator.token_redemptions == before + 2


def test_refresh_tokens_result_separates_refreshed_skipped_and_failed(connected, emulator):
    first = refresh_tokens()
    assert (first["refreshed"], first["skipped"], first["failed"]) == (["Main OneDrive"], {}, {})
    second = refresh_tokens()
    assert second["refreshed"] == [] and list(second["skipped"]) == ["Main OneDrive"]
    run = ScheduledRun.objects.filter(task="channels.tasks.refresh_tokens").first()
    assert run.outcome == ScheduledRun.Outcome.OK and run.via == "command"
    assert "skipped" in run.summary


def test_a_failed_refresh_exits_non_zero_and_says_what_to_do(connected, emulator, capsys):
    emulator.revoke_grants()
    with pytest.raises(CommandError, match="could not be refreshed"):
        call_command("refresh_tokens")
    out = capsys.readouterr().out
    assert "Main OneDrive: failed:" in out and "Get Token" in out
    run = ScheduledRun.objects.get(task="channels.tasks.refresh_tokens")
    assert run.outcome == ScheduledRun.Outcome.FAILED


def test_pull_quotas_fails_in_words_when_microsoft_cannot_be_reached(connected, settings, capsys):
    settings.ONEDRIVE_GRAPH_URL = "https://127.0.0.1:9"  # nothing listens there
    with pytest.raises(CommandError, match="could not be read"):
        call_command("pull_quotas")
    assert "Main OneDrive: failed:" in capsys.readouterr().out
    result = pull_quotas()
    assert result["outcome"] == "failed" and result["read"] == []
    run = ScheduledRun.objects.filter(task="channels.tasks.pull_quotas").first()
    assert run.outcome == ScheduledRun.Outcome.FAILED and "Main OneDrive" in run.summary


def test_no_channel_is_nothing_to_do(capsys):
    out = run_command("refresh_tokens", capsys=capsys)
    assert out.strip() == "No channel to refresh: none is set up yet."
    assert ScheduledRun.objects.get().outcome == ScheduledRun.Outcome.NOTHING


def test_operations_page_shows_each_run_in_words(admin_client, connected, settings):
    settings.ONEDRIVE_GRAPH_URL = "https://127.0.0.1:9"
    pull_quotas()
    page = admin_client.get("/admin/operations/").content.decode()
    assert "every day" in page and "every 5 minutes" in page and "every 30 seconds" in page
    assert "every hour" in page
    assert " s</td>" not in page
    assert "Failed" in page and "Main OneDrive: failed:" in page
    assert "never" in page  # the tasks that have not run yet


def test_operations_page_without_channels_says_so(admin_client):
    page = admin_client.get("/admin/operations/").content.decode()
    assert "All channels are connected" not in page
    assert "No channels yet" in page
    assert "/admin/channels/channel/add/" in page


@pytest.mark.parametrize(
    "seconds, words",
    [
        (86400, "every day"),
        (300, "every 5 minutes"),
        (60, "every minute"),
        (3600, "every hour"),
        (7200, "every 2 hours"),
        (90, "every 90 seconds"),
        (30, "every 30 seconds"),
        (172800, "every 2 days"),
    ],
)
def test_intervals_in_words(seconds, words):
    from ops.templatetags.humanize_duration import every

    assert every(seconds) == words
