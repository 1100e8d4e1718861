"""Excerpts of refused input in the log never carry Slack's verification token or signed URLs."""

from __future__ import annotations

from bot.untrusted import excerpt


def test_an_excerpt_masks_the_token_and_the_response_url() -> None:
    text = excerpt("token=abcdef123&team_id=T1&command=%2Fops&response_url=https%3A%2F%2Fhooks.slack.com%2Fx&text=hi")
    assert "abcdef123" not in text and "hooks.slack.com" not in text
    assert text.startswith("token=***&team_id=T1&command=%2Fops&response_url=***")
