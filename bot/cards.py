"""A plan's card as it should look now, rendered from the current state (plan, votes, latest run, freeze).

Every card post and rewrite goes through here, so a card posted late (or posted again after a crash) and a card
refreshed after a decision look the same. ``fingerprint`` identifies what a card shows: a rewrite that would show the
same is skipped.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from bot import messages
from bot.blocks import Card, plan_card
from core.service import OpsPilot


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def current_card(service: OpsPilot, plan_id: str, *, note: str | None = None) -> Card:
    """NotFound when there is no such plan."""
    context = await service.queries.card_context(plan_id)
    task, plan, run = context.task, context.plan, context.run
    decision = None
    if plan.approval is not None:
        decision = messages.decided_line(
            plan.approval.decision, plan.approval.decided_by, _when(plan.approval.decided_at), plan.approval.reason
        )
    ballot = await service.ballot(plan) if plan.state == "awaiting_approval" else None
    freeze = await service.frozen(plan.environment, org=task.org_id)
    frozen = messages.frozen_line(freeze.environment, freeze.reason, freeze.actor) if freeze is not None else None
    return plan_card(task, plan, decision_line=decision, run=run, note=note, ballot=ballot, frozen=frozen)


def fingerprint(card: Card) -> str:
    document = json.dumps({"text": card.text, "blocks": card.blocks}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(document.encode()).hexdigest()[:16]
