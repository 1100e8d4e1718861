"""Approval expiry as durable work: a plan whose rule has a ``ttl`` gets a ``approval_expiry`` work row, due when
the ttl runs out, written in the same transaction that moves the plan to ``awaiting_approval``.

Whichever replica claims the row when it falls due (after restarts too) acts on the rule's ``on_expiry``:

- ``reject``: the plan is rejected by OpsPilot with the reason ``expired`` (audited with the move), and
  ``ApprovalExpired`` is published; later votes are refused with ``expired``.
- ``renotify``: ``ApprovalExpired(renotify=True)`` is published (the Slack front reminds the approvers in the card's
  thread), the reminder is audited, and the row is due again one ttl later; the plan keeps waiting.

A plan decided, superseded or gone by then just closes its row.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncConnection

from core.approvals import EXPIRED_REASON, SYSTEM_ACTOR
from core.approvals.rules import ApprovalRule
from core.clock import SYSTEM_CLOCK, Clock
from core.domain import Approval, Plan
from core.errors import IllegalTransition, NotFound
from core.events import ApprovalExpired, EventBus
from core.store import Store
from core.work import Claim, WorkQueue, worker_id
from core.work.worker import LeasedWorker

logger = logging.getLogger(__name__)

APPROVAL_EXPIRY = "approval_expiry"
LEASE_SECONDS = 30.0
RuleOf = Callable[[Plan], Awaitable[ApprovalRule | None]]


class ApprovalExpiry:
    def __init__(
        self,
        store: Store,
        rule_of: RuleOf,
        *,
        bus: EventBus,
        clock: Clock = SYSTEM_CLOCK,
        scheduler: AsyncIOScheduler | None = None,
        poll_interval: Callable[[], float] = lambda: 2.0,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.rule_of = rule_of
        self.bus = bus
        self.clock = clock
        self.work = WorkQueue(store.database, clock)
        self.worker = LeasedWorker(
            self.work,
            APPROVAL_EXPIRY,
            owner or worker_id(),
            self._expire,
            lease_seconds=lambda: LEASE_SECONDS,
            poll_interval=poll_interval,
            scheduler=scheduler,
            log_key="plan_id",
        )

    def start(self) -> None:
        self.worker.start()

    async def stop(self, timeout: float) -> None:
        await self.worker.stop(timeout)

    async def tick(self) -> list[str]:
        """One claiming round (tests that move a manual clock call this instead of waiting for the poll)."""
        return await self.worker.tick()

    async def schedule_in(self, conn: AsyncConnection, plan_id: str, rule: ApprovalRule | None) -> datetime | None:
        """Inside the transaction that starts the wait: the expiry row, due one ttl from now (None: no ttl)."""
        if rule is None or rule.ttl is None:
            return None
        due = self.clock.now() + timedelta(seconds=rule.ttl)
        await self.work.enqueue(APPROVAL_EXPIRY, plan_id, due, conn)
        return due

    def armed(self, due: datetime | None) -> None:
        """After the commit: ring the worker's alarm at ``due`` (the poll is the safety net)."""
        if due is not None:
            self.worker.arm(due)

    async def _expire(self, claim: Claim) -> None:
        try:
            plan = await self.store.get_plan(claim.subject)
        except NotFound:
            plan = None
        rule = await self.rule_of(plan) if plan is not None and plan.state == "awaiting_approval" else None
        if plan is None or rule is None or rule.ttl is None:
            async with self.work.fenced(claim) as conn:
                await self.work.release(conn, claim, done=True)
            return
        if rule.on_expiry == "renotify":
            await self._renotify(claim, plan, rule.ttl)
        else:
            await self._reject(claim, plan, rule.ttl)

    async def _reject(self, claim: Claim, plan: Plan, ttl: float) -> None:
        approval = Approval(decision="rejected", decided_by=SYSTEM_ACTOR, reason=EXPIRED_REASON)
        try:
            async with self.work.fenced(claim) as conn:
                _, appended = await self.store.transition_in(
                    conn,
                    "plan",
                    plan.id,
                    "rejected",
                    actor=SYSTEM_ACTOR,
                    reason=EXPIRED_REASON,
                    details={"ttl_seconds": ttl},
                    expect=("awaiting_approval",),
                    changes={"approval": approval.to_document()},
                )
                expired = ApprovalExpired(task_id=plan.task_id, plan_id=plan.id, environment=plan.environment, ttl_seconds=ttl)
                await self.store.emit_in(conn, expired)
                await self.work.release(conn, claim, done=True)
        except IllegalTransition:  # decided by a vote meanwhile
            async with self.work.fenced(claim) as conn:
                await self.work.release(conn, claim, done=True)
            return
        logger.info("plan %s expired after %.0fs without a decision; rejected", plan.id, ttl)
        await self.bus.publish(appended)
        await self.bus.publish(expired)

    async def _renotify(self, claim: Claim, plan: Plan, ttl: float) -> None:
        due = self.clock.now() + timedelta(seconds=ttl)
        async with self.work.fenced(claim) as conn:
            appended = await self.store.append_audit_in(
                conn, "plan", plan.id, "plan.approval_reminded", SYSTEM_ACTOR, {"ttl_seconds": ttl, "next_at": due.isoformat()}
            )
            reminded = ApprovalExpired(
                task_id=plan.task_id, plan_id=plan.id, environment=plan.environment, ttl_seconds=ttl, renotify=True
            )
            await self.store.emit_in(conn, reminded)
            await self.work.release(conn, claim, due_at=due)
        await self.bus.publish(appended)
        await self.bus.publish(reminded)
        self.worker.arm(due)
