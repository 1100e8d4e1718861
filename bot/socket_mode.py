"""Slack over Socket Mode: Bolt's aiohttp handler, with OpsPilot's rules for what cannot be handled.

- An envelope of an unknown type, or one without a readable payload, is acked (so Slack stops redelivering it) and
  ignored; so is one whose listener failed before it acknowledged (the HTTP front answers 400 there).
- When the intake could not record a delivery (Bolt's 503) the envelope is left unacked: Slack redelivers it.
- A redelivered envelope carries the same payload, so the intake key (``bot/slack_keys.py``) makes it change nothing.
- ``disconnect`` (``refresh_requested``, ``link_disabled``) and dropped connections: slack_sdk's client calls
  ``apps.connections.open`` again and reconnects.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack_request import shape_problem
from bot.untrusted import excerpt, structure_problem

logger = logging.getLogger(__name__)

ENVELOPE_TYPES = frozenset({"events_api", "slash_commands", "interactive"})
CONTROL_TYPES = frozenset({"hello", "disconnect"})


class SocketModeHandler(AsyncSocketModeHandler):
    def __init__(self, app: Any, app_token: str, **options: Any) -> None:
        super().__init__(app, app_token, **options)
        self.client.message_listeners.append(self._ack_unreadable)

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        if req.type not in ENVELOPE_TYPES or not req.payload:
            logger.warning("Socket Mode envelope %s of type %s ignored", excerpt(str(req.envelope_id)), excerpt(str(req.type)))
            await _ack(client, req.envelope_id)
            return
        # The same shape checks as a request over HTTP (bot/slack_request.py), where the answer would be a 400.
        problem = structure_problem(req.payload) or shape_problem(req.payload)
        if problem:
            logger.warning("Socket Mode %s envelope with a malformed payload ignored: %s", req.type, excerpt(problem))
            await _ack(client, req.envelope_id)
            return
        try:
            response = await run_async_bolt_app(self.app, req)
        except Exception as exc:
            logger.warning("Socket Mode %s envelope that could not be read (%s)", req.type, type(exc).__name__)
            await _ack(client, req.envelope_id)
            return
        if response.status == 503:
            return  # the intake could not record it: no ack, Slack redelivers it
        if response.status != 200:
            logger.info("Socket Mode %s envelope answered %s: acked and ignored", req.type, response.status)
            await _ack(client, req.envelope_id)
            return
        await send_async_response(client, req, response, started)

    async def _ack_unreadable(self, client: AsyncBaseSocketModeClient, message: dict, raw: str | None) -> None:
        """Envelopes slack_sdk cannot turn into a request (no type or no payload) never reach ``handle``: ack them
        here so Slack does not redeliver them forever."""
        envelope_id = message.get("envelope_id")
        if message.get("type") in CONTROL_TYPES or not isinstance(envelope_id, str) or not envelope_id:
            return
        try:
            readable = SocketModeRequest.from_dict(message) is not None
        except ValueError:  # a payload that is neither an object nor a string
            readable = False
        if not readable:
            logger.warning("malformed Socket Mode envelope %s ignored", excerpt(envelope_id))
            await _ack(client, envelope_id)


async def _ack(client: AsyncBaseSocketModeClient, envelope_id: str) -> None:
    await client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
