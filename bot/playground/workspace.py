"""The emulated workspace's state: people, channels, messages, threads, ephemerals, views.

Everything here is synchronous and runs on the event loop; every change bumps
`version` and notifies listeners (the live stream, waiters).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.playground.ids import IdMinter, TimestampClock
from bot.playground.records import ApiCall, Message, SeedChannel, SeedUser
from bot.playground.seeds import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    BOT_USER_ID,
    SLACKBOT_USER,
    TEAM_ID,
    dm_channel_id,
)

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 40_000

ChangeListener = Callable[[str], None]


class Workspace:
    def __init__(
        self,
        users: Sequence[SeedUser],
        channels: Sequence[SeedChannel],
        usergroups: Mapping[str, Sequence[str]],
    ) -> None:
        everyone = [*users, BOT_USER, SLACKBOT_USER]
        self.users: dict[str, SeedUser] = {user.id: user for user in everyone}
        self.channels: dict[str, SeedChannel] = {channel.id: channel for channel in channels}
        for user in users:
            if not user.is_bot:
                dm = SeedChannel(dm_channel_id(user.id), user.name, is_im=True, im_user=user.id)
                self.channels[dm.id] = dm
        self.usergroups: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in usergroups.items()}
        self.calls: list[ApiCall] = []
        self.warnings: list[str] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_owner: dict[str, str] = {}
        self.view_errors: dict[str, dict[str, str]] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.home_views: dict[str, str] = {}
        self.version = 0
        self.clock = TimestampClock()
        self.ids = IdMinter()
        self._messages: dict[str, dict[str, Message]] = {channel_id: {} for channel_id in self.channels}
        self._ephemerals: dict[str, Message] = {}
        self._listeners: list[ChangeListener] = []

    # -- change notification -------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def changed(self, kind: str) -> None:
        self.version += 1
        for listener in list(self._listeners):
            listener(kind)

    # -- lookups -------------------------------------------------------------

    def resolve_channel(self, ref: str) -> str | None:
        """A channel id for an id, "#name", "name" or a user id (their DM with the bot)."""
        if ref in self.channels:
            return ref
        if ref in self.users and not self.users[ref].is_bot:
            return dm_channel_id(ref)
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name and not channel.is_im:
                return channel.id
        return None

    def channel_name(self, channel_id: str) -> str:
        channel = self.channels.get(channel_id)
        if channel is None:
            return channel_id
        return "directmessage" if channel.is_im else channel.name

    def find(self, channel: str, ts: str) -> Message | None:
        return self._messages.get(channel, {}).get(ts)

    def find_ephemeral(self, ts: str) -> Message | None:
        return self._ephemerals.get(ts)

    def top_level(self, channel: str) -> list[Message]:
        return [m for m in self._messages.get(channel, {}).values() if m.thread_ts is None]

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        return [m for m in self._messages.get(channel, {}).values() if m.thread_ts == thread_ts]

    def history(self, channel: str) -> list[Message]:
        """What the channel itself shows, oldest first: top-level messages and replies broadcast to it."""
        return [m for m in self._messages.get(channel, {}).values() if m.thread_ts is None or m.broadcast]

    def ephemerals(self, user: str | None = None, channel: str | None = None) -> list[Message]:
        return [
            m
            for m in self._ephemerals.values()
            if (user is None or m.ephemeral_for == user) and (channel is None or m.channel == channel)
        ]

    def all_messages(self) -> Iterable[Message]:
        for per_channel in self._messages.values():
            yield from per_channel.values()

    # -- messages ------------------------------------------------------------

    def post(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        extra: Mapping[str, Any] | None = None,
        *,
        broadcast: bool = False,
    ) -> Message:
        ts = self.clock.next()
        raw = dict(extra or {})
        parent = self.find(channel, thread_ts) if thread_ts else None
        if parent is not None:
            raw["parent_user_id"] = parent.user
        message = _shaped(
            Message(
                ts=ts,
                channel=channel,
                user=user,
                text=self._truncated(text, f"message in {channel}"),
                blocks=list(blocks or []),
                thread_ts=thread_ts,
                raw=raw,
                broadcast=broadcast and thread_ts is not None,
            )
        )
        self._messages.setdefault(channel, {})[ts] = message
        if thread_ts is not None:
            self._recount_replies(channel, thread_ts)
        self.changed("message")
        return message

    def update(
        self,
        channel: str,
        ts: str,
        *,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        mark_edited: bool = True,
    ) -> Message:
        current = self._messages[channel][ts]
        updated = _shaped(
            dataclasses.replace(
                current,
                text=current.text if text is None else self._truncated(text, f"update of {ts}"),
                blocks=current.blocks if blocks is None else list(blocks),
                edited=current.edited or mark_edited,
            )
        )
        self._messages[channel][ts] = updated
        self.changed("message")
        return updated

    def delete(self, channel: str, ts: str) -> Message:
        removed = self._messages[channel].pop(ts)
        if removed.thread_ts is not None:
            self._recount_replies(channel, removed.thread_ts)
        self.changed("message")
        return removed

    def add_reaction(self, channel: str, ts: str, name: str, user: str) -> bool:
        """Adds a reaction; False when `user` already reacted with `name`."""
        message = self._messages[channel][ts]
        reactions: list[dict[str, Any]] = [dict(r) for r in message.raw.get("reactions", [])]
        for reaction in reactions:
            if reaction["name"] == name:
                if user in reaction["users"]:
                    return False
                reaction["users"] = [*reaction["users"], user]
                reaction["count"] += 1
                break
        else:
            reactions.append({"name": name, "users": [user], "count": 1})
        self._messages[channel][ts] = dataclasses.replace(message, raw={**message.raw, "reactions": reactions})
        self.changed("message")
        return True

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        author: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> Message:
        ts = self.clock.next()
        message = _shaped(
            Message(
                ts=ts,
                channel=channel,
                user=author,
                text=self._truncated(text, f"ephemeral in {channel}"),
                blocks=list(blocks or []),
                thread_ts=thread_ts,
                ephemeral_for=user,
                raw=bot_extra() if author == BOT_USER_ID else {},
            )
        )
        self._ephemerals[ts] = message
        self.changed("ephemeral")
        return message

    def replace_ephemeral(self, ts: str, text: str, blocks: list[dict[str, Any]] | None) -> Message:
        current = self._ephemerals[ts]
        updated = _shaped(dataclasses.replace(current, text=self._truncated(text, "ephemeral"), blocks=list(blocks or [])))
        self._ephemerals[ts] = updated
        self.changed("ephemeral")
        return updated

    def delete_ephemeral(self, ts: str) -> None:
        del self._ephemerals[ts]
        self.changed("ephemeral")

    def _recount_replies(self, channel: str, thread_ts: str) -> None:
        parent = self._messages.get(channel, {}).get(thread_ts)
        if parent is None:
            return
        replies = self.replies(channel, thread_ts)
        self._messages[channel][thread_ts] = _shaped(
            dataclasses.replace(parent, reply_count=len(replies)),
            reply_users=sorted({r.user for r in replies}),
            latest_reply=replies[-1].ts if replies else None,
        )

    def _truncated(self, text: str, where: str) -> str:
        if len(text) <= MAX_TEXT_CHARS:
            return text
        self.warn(f"text of {where} was {len(text)} chars; truncated to {MAX_TEXT_CHARS} like Slack")
        return text[:MAX_TEXT_CHARS]

    # -- views ---------------------------------------------------------------

    def store_view(self, owner: str, view: dict[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or self.ids.next("V0")
        previous = self.views.get(view_id, {})
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "title": view.get("title"),
            "blocks": view.get("blocks", []),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", previous.get("external_id", "")),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self.ids.next('h')}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": previous.get("root_view_id", view_id),
            "previous_view_id": previous.get("previous_view_id"),
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self.views[view_id] = stored
        self.view_owner[view_id] = owner
        self.view_errors.pop(view_id, None)
        self.changed("view")
        return stored

    def push_modal(self, owner: str, view: dict[str, Any]) -> dict[str, Any]:
        stack = self.modal_stacks.setdefault(owner, [])
        stored = self.store_view(owner, view)
        if stack:
            stored["root_view_id"] = self.views[stack[0]]["root_view_id"]
            stored["previous_view_id"] = stack[-1]
        stack.append(stored["id"])
        self.changed("view")
        return stored

    def open_modal_of(self, user: str) -> dict[str, Any] | None:
        stack = self.modal_stacks.get(user) or []
        return self.views.get(stack[-1]) if stack else None

    def close_modal(self, user: str, view_id: str, *, everything: bool = False) -> None:
        stack = self.modal_stacks.get(user, [])
        if everything:
            stack.clear()
        elif view_id in stack:
            stack.remove(view_id)
        self.changed("view")

    def find_view(self, view_id: str | None = None, external_id: str | None = None) -> dict[str, Any] | None:
        if view_id:
            return self.views.get(view_id)
        for view in self.views.values():
            if external_id and view.get("external_id") == external_id:
                return view
        return None

    def publish_home(self, user: str, view: dict[str, Any]) -> dict[str, Any]:
        stored = self.store_view(user, view, view_id=self.home_views.get(user))
        self.home_views[user] = stored["id"]
        return stored

    def home_of(self, user: str) -> dict[str, Any] | None:
        view_id = self.home_views.get(user)
        return self.views.get(view_id) if view_id else None

    # -- observation ---------------------------------------------------------

    def record_call(self, method: str, params: Mapping[str, Any], error: str | None, team: str | None = None) -> ApiCall:
        call = ApiCall(method=method, params=dict(params), ok=error is None, error=error, at=time.time(), team=team)
        self.calls.append(call)
        if error is not None:
            logger.info("Web API %s failed: %s", method, error)
        self.changed("call")
        return call

    def warn(self, warning: str) -> None:
        logger.warning("Playground warning: %s", warning)
        self.warnings.append(warning)
        self.changed("warning")


def bot_extra() -> dict[str, Any]:
    """The fields Slack adds to messages a bot posts."""
    return {
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "bot_profile": {"id": BOT_ID, "app_id": APP_ID, "name": BOT_USER.real_name, "team_id": TEAM_ID},
    }


def _shaped(message: Message, **thread_fields: Any) -> Message:
    """`message` with `raw` rebuilt in Slack's JSON shape (extra fields kept)."""
    raw: dict[str, Any] = {
        **message.raw,
        "type": "message",
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "team": TEAM_ID,
    }
    raw.pop("blocks", None)
    if message.blocks:
        raw["blocks"] = message.blocks
    if message.thread_ts is not None:
        raw["thread_ts"] = message.thread_ts
        if message.broadcast:
            raw["subtype"] = "thread_broadcast"
    elif message.reply_count:
        raw["thread_ts"] = message.ts
        raw["reply_count"] = message.reply_count
        raw.update({k: v for k, v in thread_fields.items() if v is not None})
    else:
        for key in ("thread_ts", "reply_count", "reply_users", "latest_reply"):
            raw.pop(key, None)
    if message.edited:
        raw["edited"] = {"user": message.user, "ts": raw.get("edited", {}).get("ts") or message.ts}
    return dataclasses.replace(message, raw=raw)
