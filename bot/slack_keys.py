"""The intake key of a Slack delivery: the same for the original, Slack's retries (``X-Slack-Retry-Num``) and a replay
of the signed request; different for anything a person did again.

- Events API: ``slack:event:<event_id>`` (Slack's own id, kept across its retries).
- Slash commands: ``slack:command:<team>:<user>:<trigger_id>`` (a new trigger for every invocation; the
  ``response_url`` stands in when a payload has no trigger).
- Interactions: ``slack:action:<team>:<user>:<action_id>:<action_ts>`` for a button (``trigger_id`` when there is no
  ``action_ts``), ``slack:view:<team>:<user>:<view id>:<trigger_id>`` for a modal submission.

Anything else (``url_verification``, ``view_closed``) has no key: it changes nothing.
"""

from __future__ import annotations

from typing import Any

from core.intake.keys import IntakeKey


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id(value: Any) -> str:
    """A Slack id given either as a string or as an object with ``id``."""
    if isinstance(value, dict):
        return _text(value.get("id"))
    return _text(value)


def delivery_key(body: dict[str, Any]) -> IntakeKey | None:
    """The key of a parsed, signed Slack payload (as Bolt hands it to listeners), or None."""
    kind = body.get("type")
    if kind == "event_callback":
        event_id = _text(body.get("event_id"))
        return IntakeKey.of("slack_event", "slack", "event", event_id) if event_id else None
    if "command" in body:
        trigger = _text(body.get("trigger_id")) or _text(body.get("response_url"))
        if not trigger:
            return None
        return IntakeKey.of("slack_command", "slack", "command", _text(body.get("team_id")), _text(body.get("user_id")), trigger)
    team = _id(body.get("team")) or _text(body.get("team_id"))
    user = _id(body.get("user"))
    if kind == "block_actions":
        actions = body.get("actions") or []
        action = actions[0] if actions and isinstance(actions[0], dict) else {}
        moment = _text(action.get("action_ts")) or _text(body.get("trigger_id"))
        if not moment:
            return None
        return IntakeKey.of("slack_action", "slack", "action", team, user, _text(action.get("action_id")), moment)
    if kind == "view_submission":
        view = body["view"] if isinstance(body.get("view"), dict) else {}
        trigger = _text(body.get("trigger_id")) or _text(view.get("hash"))
        if not trigger:
            return None
        return IntakeKey.of("slack_view", "slack", "view", team, user, _text(view.get("id")), trigger)
    return None
