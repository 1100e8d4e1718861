"""A Slack ask, from slash command or mention, recorded for a worker: the part shared by both.

Nothing is planned here: the ask, its intake key and its work item are stored in one transaction and the delivery
is acked. A worker plans it (``core/asks``); the Slack subscriber (``bot/slack_delivery.py``) posts the plan's card
on ``task.planned`` and answers the other outcomes on ``ask.answered``.
"""

from __future__ import annotations

import logging

from core.intake import Ask
from core.intake.keys import IntakeKey
from core.service import OpsPilot

logger = logging.getLogger(__name__)


async def record_ask(
    service: OpsPilot,
    *,
    text: str,
    user_id: str,
    channel_id: str,
    via: str,
    key: IntakeKey | None,
    team_id: str | None = None,
    response_url: str | None = None,
    agent: str | None = None,
) -> str | None:
    """The recorded ask's id, or None when the delivery was seen before (Slack's retry or a replay: nothing is done).
    ``agent``: the reading the person picked from "did you mean" buttons (the ask is planned with that agent).
    The task's origin names the channel and the user (its card is posted there); the ``response_url`` is kept with
    the ask only, for the private answer."""
    origin = {"front": "slack", "via": via, "channel": channel_id, "user": user_id}
    if team_id:
        origin["team"] = team_id
    ask = Ask.from_front(text, user_id, channel_id, agent=agent, **origin)
    reply = {"response_url": response_url} if response_url else {}
    return await service.asks.record(ask, front="slack", key=key, reply=reply)
