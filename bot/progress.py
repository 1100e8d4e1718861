"""What happens after the card is posted: card rewrites on decisions and run endings, and one
reply in the card's thread for every phase start and end."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.blocks import plan_card
from core.events import PhaseCompleted, PhaseStarted, PlanDecided, RunFinished, RunPaused, RunResumed, RunStarted
from core.service import OpsPilot

logger = logging.getLogger(__name__)


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class SlackProgress:
    def __init__(self, service: OpsPilot, client: AsyncWebClient) -> None:
        self.service = service
        self.client = client

    def subscribe(self) -> None:
        bus = self.service.bus
        bus.subscribe(self.on_decided, PlanDecided)
        bus.subscribe(self.on_run_started, RunStarted)
        bus.subscribe(self.on_phase_started, PhaseStarted)
        bus.subscribe(self.on_phase_completed, PhaseCompleted)
        bus.subscribe(self.on_run_finished, RunFinished)
        bus.subscribe(self.on_paused, RunPaused)
        bus.subscribe(self.on_resumed, RunResumed)

    async def _ref(self, plan_id: str) -> dict | None:
        ref = await self.service.store.message_ref(plan_id)
        return ref if ref and ref.get("front") == "slack" else None

    async def refresh_card(self, plan_id: str) -> None:
        ref = await self._ref(plan_id)
        if ref is None:
            return
        plan = await self.service.store.get_plan(plan_id)
        task = await self.service.store.get_task(plan.task_id)
        runs = await self.service.store.runs_for_plan(plan_id)
        decision = None
        if plan.approval is not None:
            decision = messages.decided_line(
                plan.approval.decision, plan.approval.decided_by, _when(plan.approval.decided_at), plan.approval.reason)
        card = plan_card(task, plan, decision_line=decision, run=runs[-1] if runs else None)
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

    async def on_decided(self, event: PlanDecided) -> None:
        await self.refresh_card(event.plan_id)

    async def on_run_started(self, event: RunStarted) -> None:
        await self._reply(event.plan_id, messages.run_started(event.total_phases, event.total_assets))
        await self.refresh_card(event.plan_id)

    async def on_phase_started(self, event: PhaseStarted) -> None:
        await self._reply(event.plan_id, messages.phase_started(event.index, event.total_phases, event.name, list(event.assets)))

    async def on_phase_completed(self, event: PhaseCompleted) -> None:
        await self._reply(event.plan_id, messages.phase_completed(
            event.index, event.total_phases, event.name, event.assets_changed, event.health, event.next_wait_seconds))
        if event.index + 1 < event.total_phases:
            await self.refresh_card(event.plan_id)

    async def on_paused(self, event: RunPaused) -> None:
        await self._reply(event.plan_id, messages.run_paused(event.actor, event.phases_completed, event.total_phases))
        await self.refresh_card(event.plan_id)

    async def on_resumed(self, event: RunResumed) -> None:
        await self._reply(event.plan_id, messages.run_resumed(event.actor, event.phases_completed, event.total_phases))
        await self.refresh_card(event.plan_id)

    async def on_run_finished(self, event: RunFinished) -> None:
        await self._reply(event.plan_id, messages.run_finished(
            event.state, event.reason, event.assets_changed, event.assets_rolled_back, event.phases_completed,
            event.total_phases, event.duration_seconds))
        await self.refresh_card(event.plan_id)
