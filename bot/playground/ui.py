"""The playground page and the browser's endpoints: state snapshots, user actions, live stream."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.delivery import DeliveryError
from bot.playground.live import LiveStream
from bot.playground.records import Delivery, Message
from bot.playground.seeds import BOT_NAME, BOT_USER_ID, TEAM_NAME, dm_channel_id
from bot.playground.workspace import Workspace

if TYPE_CHECKING:
    from bot.playground.emulator import SlackEmulator

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
RECENT_CALLS = 40


class PlaygroundUi:
    def __init__(self, emulator: SlackEmulator, workspace: Workspace, live: LiveStream) -> None:
        self.emulator = emulator
        self.workspace = workspace
        self.live = live

    def register(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_static("/ui/static/", STATIC_DIR, append_version=False)
        app.router.add_get("/ui/state", self.state)
        app.router.add_post("/ui/command", self.command)
        app.router.add_post("/ui/message", self.message)
        app.router.add_post("/ui/click", self.click)
        app.router.add_post("/ui/view_click", self.view_click)
        app.router.add_post("/ui/view_submit", self.view_submit)
        app.router.add_post("/ui/view_close", self.view_close)
        app.router.add_post("/ui/home", self.home)
        app.router.add_get("/events/stream", self.live.handle)

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def state(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        channel = request.query.get("channel", "")
        thread_ts = request.query.get("thread") or None
        return web.json_response(self._snapshot(user, channel, thread_ts))

    def _snapshot(self, user: str, channel: str, thread_ts: str | None) -> dict[str, Any]:
        ws = self.workspace
        channel_id = ws.resolve_channel(channel) if channel else None
        modal = ws.open_modal_of(user) if user else None
        ephemerals = ws.ephemerals(user, channel_id) if user and channel_id else []
        thread: dict[str, Any] | None = None
        if channel_id and thread_ts:
            parent = ws.find(channel_id, thread_ts)
            if parent is not None:
                thread = {
                    "parent": _message_json(parent),
                    "replies": [_message_json(m) for m in ws.replies(channel_id, thread_ts)],
                }
        return {
            "version": ws.version,
            "team": {"name": TEAM_NAME},
            "bot": {"id": BOT_USER_ID, "name": BOT_NAME},
            "bot_url": self.emulator.bot_url,
            "users": [{"id": u.id, "name": u.name, "real_name": u.real_name, "is_bot": u.is_bot} for u in ws.users.values()],
            "channels": [{"id": c.id, "name": c.name} for c in ws.channels.values() if not c.is_im],
            "dm_channel": dm_channel_id(user) if user and user in ws.users else None,
            "channel": channel_id,
            "messages": [_message_json(m) for m in ws.top_level(channel_id)] if channel_id else [],
            "ephemerals": [_message_json(m) for m in ephemerals],
            "thread": thread,
            "modal": {"view": modal, "errors": ws.view_errors.get(modal["id"], {})} if modal else None,
            "home": ws.home_of(user) if user else None,
            "calls": [{"method": c.method, "ok": c.ok, "error": c.error, "at": c.at} for c in ws.calls[-RECENT_CALLS:]],
            "warnings": ws.warnings[-10:],
        }

    # -- actions -------------------------------------------------------------

    async def command(self, request: web.Request) -> web.Response:
        body = await request.json()
        command, _, text = str(body.get("text", "")).strip().partition(" ")
        return await self._act(self.emulator.send_slash_command(body["user"], body["channel"], command, text.strip()))

    async def message(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = composer_text(str(body.get("text", "")), self.workspace)
        return await self._act(self.emulator.send_message(body["user"], body["channel"], text, body.get("thread_ts") or None))

    async def click(self, request: web.Request) -> web.Response:
        body = await request.json()
        return await self._act(
            self.emulator.click_button(
                body["user"], body["channel"], body["message_ts"], body["action_id"], block_id=body.get("block_id")
            )
        )

    async def view_click(self, request: web.Request) -> web.Response:
        body = await request.json()
        return await self._act(
            self.emulator.click_view_button(body["user"], body["view_id"], body["action_id"], block_id=body.get("block_id"))
        )

    async def view_submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        return await self._act(self.emulator.submit_view(body["user"], body["view_id"], body.get("values") or {}))

    async def view_close(self, request: web.Request) -> web.Response:
        body = await request.json()
        return await self._act(self.emulator.close_view(body["user"], body["view_id"]))

    async def home(self, request: web.Request) -> web.Response:
        body = await request.json()
        return await self._act(self.emulator.open_home(body["user"]))

    async def _act(self, action: Any) -> web.Response:
        try:
            delivery: Delivery | None = await action
        except DeliveryError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=502)
        except (LookupError, ValueError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if delivery is None:
            return web.json_response({"ok": True, "delivered": False})
        return web.json_response({"ok": delivery.ok, "delivered": True, "status": delivery.status})


_MENTION = re.compile(r"(?<![\w<])@([A-Za-z][\w.-]*)")


def composer_text(typed: str, workspace: Workspace) -> str:
    """What Slack's composer sends for `typed`: &, <, > escaped and @names turned into <@U…> mentions."""
    escaped = html.escape(typed, quote=False)
    handles = {user.name.lower(): user.id for user in workspace.users.values()}
    handles[BOT_NAME.lower()] = BOT_USER_ID
    for user in workspace.users.values():
        handles.setdefault(user.real_name.split()[0].lower(), user.id)

    def mention(match: re.Match[str]) -> str:
        user_id = handles.get(match.group(1).lower())
        return f"<@{user_id}>" if user_id else match.group(0)

    return _MENTION.sub(mention, escaped)


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks,
        "thread_ts": message.thread_ts,
        "reply_count": message.reply_count,
        "ephemeral": message.ephemeral_for is not None,
        "edited": message.edited,
        "reactions": message.raw.get("reactions", []),
        "files": [
            {key: f.get(key) for key in ("id", "name", "title", "mimetype", "alt_txt", "url_private", "original_w", "original_h")}
            for f in message.raw.get("files", [])
            if isinstance(f, dict)
        ],
    }
