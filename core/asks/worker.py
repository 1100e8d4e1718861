"""Planning recorded asks: a :class:`~core.work.worker.LeasedWorker` over work kind ``ask``.

Each claim plans one ask with the service (``submit``, with the task id recorded on the ask), then, in one fenced
transaction, marks the ask done and writes :class:`~core.events.AskAnswered` to the outbox. A front answers the asker
from that event (and posts a plan's card on ``task.planned``, written with the plan).

Planning is safe to repeat. The ask row carries the id of the task its planning creates, so a worker that takes an
ask over (the previous holder died, its lease lapsed) finds what the earlier attempt stored:

- no task with that id: nothing was stored; plan with that id;
- the task is ``planned`` or ``failed``: planning finished (``task.planned`` is written when the task settles, so
  its card is posted once, by that event); the ask is answered from the stored task, without planning again;
- the task is still ``created`` or ``parsing``: the attempt died mid-way, before ``task.planned``. That task is
  failed (its open plans superseded, no event a front would answer), and the ask is planned again under a new task
  id, recorded on the ask first.

An error that escapes planning (the database went away) is retried with a growing delay; after ``MAX_ATTEMPTS`` the
ask fails and the asker is told.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.approvals import SYSTEM_ACTOR
from core.asks.queue import ASK_WORK, AskQueue, AskState, RecordedAsk
from core.errors import IllegalTransition, NotFound
from core.events import AskAnswered
from core.intake import Ask
from core.store import Store
from core.work import Claim, worker_id
from core.work.worker import LeasedWorker

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_SECONDS = 5.0  # after an escaped error: 5 s, 10 s, 20 s, 40 s
OPEN_PLAN_STATES = ("draft", "validated", "awaiting_approval")
INTERRUPTED = "planning was interrupted (the worker planning it stopped); the ask is planned again as task {task_id}"
ERROR_ANSWER = "Something went wrong while planning. The error is in OpsPilot's log."


class Outcome(Protocol):
    kind: str
    message: str
    task: Any
    plan: Any
    errors: list[str]


class Planner(Protocol):
    """What the worker needs from the service (core.service.OpsPilot)."""

    store: Store
    outbox: Any

    async def submit(self, ask: Ask, *, task_id: str | None = None) -> Any: ...


@dataclass(frozen=True)
class Answer:
    outcome: str  # plan | no_change | invalid | failed
    message: str
    task_id: str | None = None
    plan_id: str | None = None
    errors: tuple[str, ...] = field(default=())
    choices: tuple[dict[str, str], ...] = field(default=())  # an unclear ask: the readings to offer (agent, label)

    @classmethod
    def of(cls, outcome: Outcome) -> Answer:
        return cls(
            outcome.kind,
            outcome.message,
            outcome.task.id if outcome.task is not None else None,
            outcome.plan.id if outcome.plan is not None else None,
            tuple(str(e) for e in outcome.errors[:20]),
            tuple({"agent": c.agent, "label": c.label} for c in getattr(outcome, "choices", None) or []),
        )


class AskWorker:
    def __init__(
        self,
        asks: AskQueue,
        planner: Planner,
        *,
        capacity: int,
        lease_seconds: Callable[[], float],
        poll_interval: Callable[[], float],
        scheduler: AsyncIOScheduler | None = None,
        owner: str | None = None,
    ) -> None:
        self.asks = asks
        self.planner = planner
        self.work = asks.work
        self.worker = LeasedWorker(
            self.work,
            ASK_WORK,
            owner or worker_id(),
            self._drive,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            capacity=capacity,
            on_failure=self._failed,
            scheduler=scheduler,
            log_key=None,
        )

    @property
    def running(self) -> bool:
        return self.worker.running

    def start(self) -> None:
        self.worker.start()

    def wake(self, _ask_id: str | None = None) -> None:
        if self.worker.running:
            self.worker.wake()

    async def stop(self, timeout: float) -> None:
        await self.worker.stop(timeout)

    async def tick(self) -> list[str]:
        """One claiming round (tests call it instead of waiting for the poll)."""
        return await self.worker.tick()

    async def run_until_idle(self, timeout: float = 30.0) -> None:
        """Plan every ask due now (tests, benchmarks): claim rounds until nothing is due or held."""
        await self.worker.run_until_idle(timeout)

    # -- one ask -------------------------------------------------------------------------------

    async def _drive(self, claim: Claim) -> None:
        await self.asks.pressure.quiet()  # acks first: plan between this replica's Slack deliveries
        recorded = await self.asks.get(claim.subject)
        if recorded is None or recorded.state != "pending":
            async with self.work.fenced(claim) as conn:
                await self.work.release(conn, claim, done=True)
            return
        task_id, answer = await self._resume(claim, recorded)
        if answer is None:
            answer = Answer.of(await self.planner.submit(recorded.ask, task_id=task_id))
        await self._answer(claim, recorded, answer, "done")

    async def _resume(self, claim: Claim, recorded: RecordedAsk) -> tuple[str, Answer | None]:
        """The task id to plan under, or the answer when an earlier attempt already planned the ask."""
        store = self.planner.store
        if recorded.task_id is None:
            return await self._new_task_id(claim, recorded), None
        try:
            task = await store.get_task(recorded.task_id)
        except NotFound:
            return recorded.task_id, None
        state = task.status.state
        if state == "failed":
            return task.id, Answer("failed", task.status.reason or ERROR_ANSWER, task.id)
        if state == "planned":
            plans = await store.plans_for_task(task.id)
            if plans:
                return task.id, Answer("plan", "Planned before a restart.", task.id, plans[-1].id)
            return task.id, Answer("no_change", await self._no_change_message(task.id), task.id)
        replacement = await self._new_task_id(claim, recorded)
        await self._end_interrupted(task.id, replacement)
        return replacement, None

    async def _new_task_id(self, claim: Claim, recorded: RecordedAsk) -> str:
        task_id = str(uuid.uuid4())
        async with self.work.fenced(claim) as conn:
            await self.asks.set_task_in(conn, recorded.id, task_id)
        return task_id

    async def _end_interrupted(self, task_id: str, replacement: str) -> None:
        store = self.planner.store
        reason = INTERRUPTED.format(task_id=replacement)
        for plan in await store.plans_for_task(task_id):
            if plan.state in OPEN_PLAN_STATES:
                try:
                    await store.transition(
                        "plan", plan.id, "superseded", actor=SYSTEM_ACTOR, reason=reason, expect=OPEN_PLAN_STATES
                    )
                except IllegalTransition:
                    logger.info("plan %s of the interrupted task %s was decided meanwhile", plan.id, task_id)
        try:
            await store.transition("task", task_id, "failed", actor=SYSTEM_ACTOR, reason=reason)
        except IllegalTransition:
            logger.info("the interrupted task %s settled meanwhile", task_id)
        logger.warning("task %s: %s", task_id, reason)

    async def _no_change_message(self, task_id: str) -> str:
        for entry in reversed(await self.planner.store.audit_entries([task_id])):
            if entry.to_state == "planned" and entry.details.get("message"):
                return str(entry.details["message"])
        return "Nothing to change."

    async def _answer(
        self, claim: Claim, recorded: RecordedAsk, answer: Answer, state: AskState, error: str | None = None
    ) -> None:
        """Mark the ask finished and write ``ask.answered``, in one transaction that holds the claim."""
        event = AskAnswered(
            ask_id=recorded.id,
            task_id=answer.task_id,
            plan_id=answer.plan_id,
            outcome=answer.outcome,
            message=answer.message,
            errors=answer.errors,
            origin=recorded.origin,
            choices=tuple({**c, "text": recorded.ask.text} for c in answer.choices),
        )
        async with self.work.fenced(claim) as conn:
            await self.asks.finish_in(conn, recorded.id, state, task_id=answer.task_id, error=error)
            if self.planner.outbox is not None:
                await self.planner.outbox.add(conn, event)
            await self.work.release(conn, claim, done=True)
        await self.planner.store.publish(event)  # after the commit: wakes this replica's dispatcher
        logger.info("ask %s answered: %s", recorded.id, answer.outcome)

    async def _failed(self, claim: Claim, exc: BaseException) -> None:
        """An error escaped planning: try again later; after the last attempt the asker is told."""
        recorded = await self.asks.get(claim.subject)
        if recorded is None:
            return
        if claim.attempt < MAX_ATTEMPTS:
            delay = RETRY_SECONDS * 2 ** (claim.attempt - 1)
            logger.warning("ask %s: attempt %d failed (%r); retrying in %gs", recorded.id, claim.attempt, exc, delay)
            async with self.work.fenced(claim) as conn:
                await self.work.release(conn, claim, due_at=self.work.clock.now() + timedelta(seconds=delay))
            return
        logger.error("ask %s: giving up after %d attempts: %r", recorded.id, claim.attempt, exc)
        await self._answer(claim, recorded, Answer("failed", ERROR_ANSWER), "failed", error=repr(exc))
