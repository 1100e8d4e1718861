"""What happens after the card is posted: card rewrites on decisions and run changes, and one
reply in the card's thread for every phase start and end.

Events are handed to one background worker per plan, so Slack's latency and rate limits never hold
up the executor (which publishes while it holds a run's lock), and updates of one plan still arrive
in order. A plan whose card is still being posted (an auto-approved run starts at once) is waited
for briefly instead of losing its first updates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.blocks import plan_card
from core.approvals import SYSTEM_ACTOR
from core.events import (
    ApprovalExpired,
    FreezeChanged,
    PhaseCompleted,
    PhaseStarted,
    PlanDecided,
    PlanSuperseded,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    VoteRecorded,
)
from core.service import OpsPilot

logger = logging.getLogger(__name__)

CARD_WAIT_SECONDS = 10.0
CLOSE_WAIT_SECONDS = 10.0
Update = Callable[[], Awaitable[None]]


class _OfPlan(Protocol):
    @property
    def plan_id(self) -> str: ...


_E = TypeVar("_E", bound=_OfPlan)


@dataclass(frozen=True)
class _PlanRef:
    plan_id: str


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class SlackProgress:
    def __init__(self, service: OpsPilot, client: AsyncWebClient) -> None:
        self.service = service
        self.client = client
        self._queues: dict[str, asyncio.Queue[Update]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def subscribe(self) -> None:
        bus = self.service.bus
        bus.subscribe(self._later(self.on_decided), PlanDecided)
        bus.subscribe(self._later(self.on_vote), VoteRecorded)
        bus.subscribe(self._later(self.on_superseded), PlanSuperseded)
        bus.subscribe(self._later(self.on_run_started), RunStarted)
        bus.subscribe(self._later(self.on_phase_started), PhaseStarted)
        bus.subscribe(self._later(self.on_phase_completed), PhaseCompleted)
        bus.subscribe(self._later(self.on_run_finished), RunFinished)
        bus.subscribe(self._later(self.on_paused), RunPaused)
        bus.subscribe(self._later(self.on_resumed), RunResumed)
        bus.subscribe(self._later(self.on_expired), ApprovalExpired)
        bus.subscribe(self.on_freeze, FreezeChanged)

    # -- delivery in the background, in order per plan ----------------------------------------

    def _later(self, handler: Callable[[_E], Awaitable[None]]) -> Callable[[_E], Awaitable[None]]:
        async def enqueue(event: _E) -> None:
            plan_id = event.plan_id
            self._queues.setdefault(plan_id, asyncio.Queue()).put_nowait(lambda: handler(event))
            if plan_id not in self._workers:
                self._workers[plan_id] = asyncio.get_running_loop().create_task(
                    self._work(plan_id), name=f"slack-progress:{plan_id}"
                )

        return enqueue

    async def _work(self, plan_id: str) -> None:
        queue = self._queues[plan_id]
        try:
            while not queue.empty():
                update = queue.get_nowait()
                try:
                    await update()
                except Exception:
                    logger.exception("Slack update of plan %s failed", plan_id)
        finally:
            self._workers.pop(plan_id, None)
            if queue.empty():
                self._queues.pop(plan_id, None)

    async def close(self) -> None:
        """Deliver what is queued (up to a limit), then stop."""
        workers = list(self._workers.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=CLOSE_WAIT_SECONDS)
            for task in pending:
                task.cancel()

    # -- where the card is ---------------------------------------------------------------------

    async def _ref(self, plan_id: str) -> dict | None:
        ref = await self.service.queries.message_ref(plan_id)
        if ref is None and await self._card_coming(plan_id):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + CARD_WAIT_SECONDS
            while ref is None and loop.time() < deadline:
                await asyncio.sleep(0.1)
                ref = await self.service.queries.message_ref(plan_id)
        return ref if ref and ref.get("front") == "slack" else None

    async def _card_coming(self, plan_id: str) -> bool:
        context = await self.service.queries.card_context(plan_id)
        return context.task.origin.get("front") == "slack"

    async def refresh_card(self, plan_id: str) -> None:
        ref = await self._ref(plan_id)
        if ref is None:
            return
        context = await self.service.queries.card_context(plan_id)
        task, plan, run = context.task, context.plan, context.run
        decision = None
        if plan.approval is not None:
            decision = messages.decided_line(
                plan.approval.decision, plan.approval.decided_by, _when(plan.approval.decided_at), plan.approval.reason
            )
        ballot = await self.service.ballot(plan) if plan.state == "awaiting_approval" else None
        freeze = await self.service.frozen(plan.environment)
        frozen = messages.frozen_line(freeze.environment, freeze.reason, freeze.actor) if freeze is not None else None
        card = plan_card(task, plan, decision_line=decision, run=run, ballot=ballot, frozen=frozen)
        try:
            await self.client.chat_update(channel=ref["channel"], ts=ref["ts"], text=card.text, blocks=card.blocks)
        except SlackApiError as exc:
            logger.warning("could not update card of plan %s: %s", plan_id, exc.response.get("error"))

    async def _reply(self, plan_id: str, text: str) -> None:
        ref = await self._ref(plan_id)
        if ref is None:
            return
        try:
            await self.client.chat_postMessage(channel=ref["channel"], thread_ts=ref["ts"], text=text)
        except SlackApiError as exc:
            logger.warning("could not post progress of plan %s: %s", plan_id, exc.response.get("error"))

    # -- one method per event ------------------------------------------------------------------

    async def on_decided(self, event: PlanDecided) -> None:
        await self.refresh_card(event.plan_id)

    async def on_superseded(self, event: PlanSuperseded) -> None:
        await self.refresh_card(event.plan_id)

    async def on_vote(self, event: VoteRecorded) -> None:
        await self.refresh_card(event.plan_id)

    async def on_run_started(self, event: RunStarted) -> None:
        await self._reply(event.plan_id, messages.run_started(event.total_phases, event.total_assets, event.run_id))
        await self.refresh_card(event.plan_id)

    async def on_phase_started(self, event: PhaseStarted) -> None:
        await self._reply(event.plan_id, messages.phase_started(event.index, event.total_phases, event.name, list(event.assets)))

    async def on_phase_completed(self, event: PhaseCompleted) -> None:
        await self._reply(
            event.plan_id,
            messages.phase_completed(
                event.index,
                event.total_phases,
                event.name,
                event.assets_changed,
                event.health,
                event.next_wait_seconds,
                event.outcomes,
                event.failures,
            ),
        )
        if event.index + 1 < event.total_phases:
            await self.refresh_card(event.plan_id)

    async def on_paused(self, event: RunPaused) -> None:
        if event.actor == SYSTEM_ACTOR:
            text = messages.run_waiting(event.reason or "a step needs a person", event.phases_completed, event.total_phases)
        else:
            text = messages.run_paused(event.actor, event.phases_completed, event.total_phases)
        await self._reply(event.plan_id, text)
        await self.refresh_card(event.plan_id)

    async def on_resumed(self, event: RunResumed) -> None:
        await self._reply(event.plan_id, messages.run_resumed(event.actor, event.phases_completed, event.total_phases))
        await self.refresh_card(event.plan_id)

    async def on_expired(self, event: ApprovalExpired) -> None:
        """Rejected: the card loses its buttons and says it expired. Renotify: a reminder in the thread."""
        if event.renotify:
            plan = await self.service.get_plan(event.plan_id)
            await self._reply(event.plan_id, messages.approval_reminder((await self.service.ballot(plan)).who, event.ttl_seconds))
        await self.refresh_card(event.plan_id)

    async def on_freeze(self, event: FreezeChanged) -> None:
        """Every open card of the environment (waiting plans, running or paused runs) shows the freeze, or stops."""
        for plan_id in await self.service.open_plan_ids(event.environment):
            await self._later(self._refresh_ref)(_PlanRef(plan_id))

    async def _refresh_ref(self, ref: _PlanRef) -> None:
        await self.refresh_card(ref.plan_id)

    async def on_run_finished(self, event: RunFinished) -> None:
        await self._reply(
            event.plan_id,
            messages.run_finished(
                event.state,
                event.reason,
                event.assets_changed,
                event.assets_rolled_back,
                event.phases_completed,
                event.total_phases,
                event.duration_seconds,
            ),
        )
        await self.refresh_card(event.plan_id)
