"""Idempotent intake for the Slack front: a Bolt middleware that runs before any listener and before Bolt acks an
event.

- An event's or an interaction's key (``bot/slack_keys.py``) is claimed here; a delivery seen before (Slack's retry,
  a replayed signed request) is acked with an empty 200 and goes no further.
- A mention that asks for something is recorded here, with its key, in one transaction (Bolt acks events before
  their listener runs, so recording it in the listener could lose an acked ask).
- A slash command's key is handed to the listener, which records the ask with it before it acks.

A class rather than a decorated function: Bolt then calls it without building keyword arguments, on every ack.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.asks import record_ask
from bot.slack_keys import delivery_key
from core.intake import normalize_text
from core.service import OpsPilot

logger = logging.getLogger(__name__)

HELP_WORDS = ("", "help", "?")


def seen() -> BoltResponse:
    """The ack of a delivery handled before."""
    return BoltResponse(status=200, body="")


def unavailable() -> BoltResponse:
    """Nothing was recorded: Slack retries an event later (an interaction shows an error; the person clicks again)."""
    return BoltResponse(
        status=503,
        body=json.dumps({"error": "unavailable", "message": "OpsPilot cannot record this now; retry later."}),
        headers={"content-type": ["application/json"], "retry-after": ["5"]},
    )


def is_help(text: str) -> bool:
    return text.lower() in HELP_WORDS


def mention_ask(event: dict[str, Any]) -> bool:
    """A mention that asks for something (not help), from a person in a channel."""
    return bool(event.get("user") and event.get("channel")) and not is_help(normalize_text(event.get("text", "")))


class Intake(AsyncMiddleware):
    def __init__(self, service: OpsPilot) -> None:
        self.service = service

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        body = req.body
        key = delivery_key(body)
        if key is None or key.source == "slack_command":
            req.context["intake_key"] = key
            return await next()
        event = body.get("event") or {}
        try:
            if key.source == "slack_event" and event.get("type") == "app_mention" and mention_ask(event):
                ask_id = await record_ask(
                    self.service,
                    text=normalize_text(event.get("text", "")),
                    user_id=event["user"],
                    channel_id=event["channel"],
                    via="mention",
                    key=key,
                    team_id=body.get("team_id"),
                )
                if ask_id is None:
                    return seen()
                req.context["ask_id"] = ask_id
            elif not await self.service.asks.keys.claim(key):
                return seen()
        except Exception:
            logger.exception("could not record a Slack %s delivery", key.source)
            return unavailable()
        return await next()
