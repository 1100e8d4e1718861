"""Builds what Slack sends to apps: slash command forms, event envelopes, interactivity payloads."""

from __future__ import annotations

import time
from typing import Any

from bot.playground.records import Message
from bot.playground.seeds import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID
from bot.playground.workspace import Workspace

VERIFICATION_TOKEN = "playgroundverificationtoken"


class PayloadFactory:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.workspace.users[user_id]
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID}

    def _team(self) -> dict[str, Any]:
        return {"id": TEAM_ID, "domain": TEAM_DOMAIN}

    def slash_command(
        self, user: str, channel: str, command: str, text: str, response_url: str, trigger_id: str
    ) -> dict[str, str]:
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.workspace.channel_name(channel),
            "user_id": user,
            "user_name": self.workspace.users[user].name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }

    def event_callback(self, event: dict[str, Any], event_id: str) -> dict[str, Any]:
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "context_team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def message_event(self, message: Message, *, event_type: str = "message") -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": event_type,
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "team": TEAM_ID,
            "channel": message.channel,
            "event_ts": message.ts,
        }
        if event_type == "message":
            channel = self.workspace.channels.get(message.channel)
            event["channel_type"] = "im" if channel is not None and channel.is_im else "channel"
        if message.thread_ts is not None:
            event["thread_ts"] = message.thread_ts
        if message.blocks:
            event["blocks"] = message.blocks
        return event

    def app_home_opened(self, user: str, channel: str, view: dict[str, Any] | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": channel,
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        if view is not None:
            event["view"] = view
        return event

    def message_block_actions(
        self,
        user: str,
        message: Message,
        action: dict[str, Any],
        response_url: str,
        trigger_id: str,
    ) -> dict[str, Any]:
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": message.ephemeral_for is not None,
        }
        if message.thread_ts is not None:
            container["thread_ts"] = message.thread_ts
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": trigger_id,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": message.channel, "name": self.workspace.channel_name(message.channel)},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        # Slack leaves the message out for ephemeral sources; apps must not rely on it there.
        if message.ephemeral_for is None:
            payload["message"] = message.raw
        return payload

    def view_block_actions(self, user: str, view: dict[str, Any], action: dict[str, Any], trigger_id: str) -> dict[str, Any]:
        return {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": trigger_id,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
            "actions": [action],
        }

    def view_submission(self, user: str, view: dict[str, Any], trigger_id: str) -> dict[str, Any]:
        return {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id,
            "view": view,
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def view_closed(self, user: str, view: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "view": view,
            "is_cleared": False,
            "enterprise": None,
            "is_enterprise_install": False,
        }


def button_action(element: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The `actions[0]` entry Slack sends when a button is clicked."""
    action: dict[str, Any] = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "text": element.get("text"),
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
    for key in ("value", "style", "url"):
        if key in element:
            action[key] = element[key]
    return action
