"""manifest.yml asks Slack for exactly what the bot listens to and calls."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())


def test_manifest_declares_the_ops_command_and_interactivity_on_the_events_url() -> None:
    commands = MANIFEST["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/ops"]
    urls = {commands[0]["url"], MANIFEST["settings"]["event_subscriptions"]["request_url"], MANIFEST["settings"]["interactivity"]["request_url"]}
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_manifest_subscribes_to_the_events_the_bot_handles_and_has_the_scopes_it_needs() -> None:
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "app_home_opened"}
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands"} <= scopes
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
