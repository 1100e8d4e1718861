"""`POST /response/<id>`: the response_url Slack hands out with slash commands and block actions."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.playground.blocks import block_errors, with_generated_ids
from bot.playground.interactions import InteractionError, ResponseTarget, ResponseUrlRegistry
from bot.playground.seeds import BOT_USER_ID
from bot.playground.web_api import flag, read_params
from bot.playground.workspace import Workspace, bot_extra

logger = logging.getLogger(__name__)


class ResponseUrls:
    def __init__(self, workspace: Workspace, registry: ResponseUrlRegistry) -> None:
        self.workspace = workspace
        self.registry = registry

    def register(self, app: web.Application) -> None:
        app.router.add_post("/response/{token}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            params = await read_params(request)
        except ValueError:
            return self._fail({}, "invalid_json", 400)
        blocks = params.get("blocks")
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                return self._fail(params, "invalid_blocks", 400, errors)
            blocks = with_generated_ids(blocks)
        try:
            target = self.registry.use(request.match_info["token"])
        except InteractionError as exc:
            return self._fail(params, exc.error, 404)
        error = self._apply(target, params, blocks)
        if error is not None:
            return self._fail(params, error, 404)
        self.workspace.record_call("response_url", params, None)
        return web.json_response({"ok": True})

    def _apply(self, target: ResponseTarget, params: dict[str, Any], blocks: list[dict[str, Any]] | None) -> str | None:
        text = str(params.get("text") or "")
        if flag(params.get("delete_original")):
            return self._delete_original(target)
        if flag(params.get("replace_original")) and target.message_ts is not None:
            return self._replace_original(target, text, blocks)
        if params.get("response_type") == "in_channel":
            self.workspace.post(target.channel, BOT_USER_ID, text, blocks, target.thread_ts, bot_extra())
        else:
            self.workspace.post_ephemeral(target.channel, target.user, BOT_USER_ID, text, blocks, target.thread_ts)
        return None

    def _delete_original(self, target: ResponseTarget) -> str | None:
        if target.message_ts is None:
            return "no_original_message"
        if target.is_ephemeral:
            if self.workspace.find_ephemeral(target.message_ts) is None:
                return "message_not_found"
            self.workspace.delete_ephemeral(target.message_ts)
        else:
            if self.workspace.find(target.channel, target.message_ts) is None:
                return "message_not_found"
            self.workspace.delete(target.channel, target.message_ts)
        return None

    def _replace_original(self, target: ResponseTarget, text: str, blocks: list[dict[str, Any]] | None) -> str | None:
        assert target.message_ts is not None
        if target.is_ephemeral:
            if self.workspace.find_ephemeral(target.message_ts) is None:
                return "message_not_found"
            self.workspace.replace_ephemeral(target.message_ts, text, blocks)
        else:
            if self.workspace.find(target.channel, target.message_ts) is None:
                return "message_not_found"
            self.workspace.update(target.channel, target.message_ts, text=text, blocks=blocks or [], mark_edited=False)
        return None

    def _fail(self, params: dict[str, Any], error: str, status: int, messages: list[str] | None = None) -> web.Response:
        self.workspace.record_call("response_url", params, error)
        body: dict[str, Any] = {"ok": False, "error": error}
        if messages:
            body["response_metadata"] = {"messages": messages}
        return web.json_response(body, status=status)
