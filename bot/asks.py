"""From a Slack ask to a posted card: the part shared by slash commands and mentions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.blocks import plan_card, text_card
from core.intake import Ask
from core.llm.offline import EXAMPLE_ASKS
from core.service import AskOutcome, OpsPilot

logger = logging.getLogger(__name__)

Reply = Callable[[str], Awaitable[None]]


async def handle_ask(
    service: OpsPilot, client: AsyncWebClient, *, text: str, user_id: str, channel_id: str, reply_privately: Reply, via: str
) -> AskOutcome | None:
    """Plan the ask and post the result; every failure ends in a message to the asker, never an exception."""
    try:
        outcome = await service.submit(Ask.from_front(text, user_id, channel_id, front="slack", via=via))
    except Exception:
        logger.exception("planning failed for an ask from %s", user_id)
        await reply_privately(messages.planning_failed("Something went wrong while planning. The error is in OpsPilot's log."))
        return None

    if outcome.kind == "invalid":
        await reply_privately(messages.cannot_map(outcome.message, EXAMPLE_ASKS))
    elif outcome.kind == "failed":
        detail = outcome.message + ("\n" + "\n".join(f"• {e}" for e in outcome.errors[:5]) if outcome.errors else "")
        await reply_privately(messages.planning_failed(detail))
    elif outcome.kind == "no_change":
        await _post(
            client,
            channel_id,
            messages.no_change(outcome.message),
            text_card(messages.no_change(outcome.message)),
            reply_privately,
        )
    elif outcome.plan is not None and outcome.task is not None:
        ballot = await service.ballot(outcome.plan) if outcome.plan.state == "awaiting_approval" else None
        freeze = await service.frozen(outcome.plan.environment)
        frozen = messages.frozen_line(freeze.environment, freeze.reason, freeze.actor) if freeze is not None else None
        card = plan_card(outcome.task, outcome.plan, note=outcome.note, ballot=ballot, frozen=frozen)
        ts = await _post(client, channel_id, card.text, card.blocks, reply_privately)
        if ts:
            await service.queries.set_message_ref(outcome.plan.id, {"front": "slack", "channel": channel_id, "ts": ts})
    return outcome


async def _post(client: AsyncWebClient, channel: str, text: str, blocks: list[dict], reply_privately: Reply) -> str | None:
    try:
        response = await client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error") if exc.response is not None else "unknown_error"
        logger.warning("chat.postMessage to %s failed: %s", channel, error)
        await reply_privately(messages.post_failed(error))
        return None
    return response["ts"]
