"""Approval ttl as durable work: reject or remind when it runs out, after a restart too, moved by a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from core.approvals import SYSTEM_ACTOR
from core.approvals.expiry import APPROVAL_EXPIRY
from core.approvals.rules import ApprovalsConfig
from core.clock import ManualClock
from core.config import Config
from core.domain import Plan
from core.events import ApprovalExpired, Event
from core.intake import Ask
from core.service import OpsPilot

REQUESTER, APPROVER = "U0REQUESTER", "U0APPROVER1"
TTL = 4 * 3600


def rules(on_expiry: str) -> ApprovalsConfig:
    return ApprovalsConfig.model_validate(
        {"rules": [{"match": {}, "approvers": {"users": [APPROVER]}, "ttl": "4h", "on_expiry": on_expiry}]}
    )


async def open_service(config: Config, clock: ManualClock, events: list[Event] | None = None) -> OpsPilot:
    service = await OpsPilot.create(config, clock=clock)
    if events is not None:
        service.bus.subscribe(_collect(events), ApprovalExpired)
    return service


def _collect(events: list[Event]) -> Callable[[Event], Awaitable[None]]:
    async def handler(event: Event) -> None:
        events.append(event)

    return handler


async def ask(service: OpsPilot) -> Plan:
    outcome = await service.submit(Ask(text="fix drift on prod web servers", user_id=REQUESTER, channel_id="C0OPS"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval", outcome.message
    return outcome.plan


async def expire(service: OpsPilot) -> list[str]:
    """One claiming round of the expiry worker, waiting for what it claimed to be handled."""
    claimed = await service.expiry.tick()
    await asyncio.gather(*service.expiry.worker.holding.values(), return_exceptions=True)
    return claimed


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def rejecting(config: Config, clock: ManualClock) -> AsyncIterator[tuple[OpsPilot, list[Event]]]:
    config.approvers = []
    config.approvals = rules("reject")
    events: list[Event] = []
    service = await open_service(config, clock, events)
    try:
        yield service, events
    finally:
        await service.close()


async def test_the_expiry_row_is_written_with_the_wait_and_due_one_ttl_later(
    rejecting: tuple[OpsPilot, list[Event]], clock: ManualClock
) -> None:
    service, _ = rejecting
    plan = await ask(service)
    row = await service.expiry.work.state_of(APPROVAL_EXPIRY, plan.id)
    assert row is not None and row["state"] == "pending"
    due = row["due_at"] if row["due_at"].tzinfo else row["due_at"].replace(tzinfo=clock.now().tzinfo)
    assert abs((due - clock.now()).total_seconds() - TTL) < 5


async def test_reject_on_expiry_rejects_the_plan_audits_it_and_later_votes_get_expired(
    rejecting: tuple[OpsPilot, list[Event]], clock: ManualClock
) -> None:
    service, events = rejecting
    plan = await ask(service)
    assert await expire(service) == [], "nothing is due before the ttl"
    clock.advance(TTL + 1)
    assert await expire(service) == [plan.id]

    rejected = await service.get_plan(plan.id)
    assert rejected.state == "rejected" and rejected.approval is not None
    assert (rejected.approval.decided_by, rejected.approval.reason) == (SYSTEM_ACTOR, "expired")
    trail = [(e.event, e.actor) for e in await service.store.audit_entries([plan.id])]
    assert ("plan.rejected", SYSTEM_ACTOR) in trail
    assert [(type(e), e.renotify) for e in events if isinstance(e, ApprovalExpired)] == [(ApprovalExpired, False)]
    vote = await service.decide(plan.id, APPROVER, "approved")
    assert vote.status == "expired" and await service.store.runs_for_plan(plan.id) == []
    assert (await service.expiry.work.state_of(APPROVAL_EXPIRY, plan.id) or {}).get("state") == "done"


async def test_a_vote_after_the_ttl_but_before_the_worker_ran_is_refused_too(
    rejecting: tuple[OpsPilot, list[Event]], clock: ManualClock
) -> None:
    service, _ = rejecting
    plan = await ask(service)
    clock.advance(TTL + 1)
    assert (await service.decide(plan.id, APPROVER, "approved")).status == "expired"


async def test_a_plan_decided_in_time_closes_its_expiry_without_changing(
    rejecting: tuple[OpsPilot, list[Event]], clock: ManualClock
) -> None:
    service, events = rejecting
    plan = await ask(service)
    assert (await service.decide(plan.id, APPROVER, "rejected", reason="no")).status == "rejected"
    clock.advance(TTL + 1)
    assert await expire(service) == [plan.id]
    stored = await service.get_plan(plan.id)
    assert stored.approval is not None and stored.approval.decided_by == APPROVER
    assert events == []


async def test_renotify_reminds_rearms_and_the_plan_keeps_waiting(config: Config, clock: ManualClock) -> None:
    config.approvers = []
    config.approvals = rules("renotify")
    events: list[Event] = []
    service = await open_service(config, clock, events)
    try:
        plan = await ask(service)
        clock.advance(TTL + 1)
        assert await expire(service) == [plan.id]
        assert [e.renotify for e in events if isinstance(e, ApprovalExpired)] == [True]
        assert (await service.get_plan(plan.id)).state == "awaiting_approval"
        assert await expire(service) == [], "re-armed one ttl later, not due now"
        clock.advance(TTL + 1)
        assert await expire(service) == [plan.id]
        assert len(events) == 2
        reminders = [e for e in await service.store.audit_entries([plan.id]) if e.event == "plan.approval_reminded"]
        assert len(reminders) == 2
        assert (await service.decide(plan.id, APPROVER, "approved")).status == "approved", "still decidable"
    finally:
        await service.close()


async def test_the_expiry_fires_after_a_restart_on_the_same_database(config: Config, clock: ManualClock) -> None:
    config.approvers = []
    config.approvals = rules("reject")
    first = await open_service(config, clock)
    try:
        plan = await ask(first)
    finally:
        await first.close()
    clock.advance(TTL + 1)
    events: list[Event] = []
    second = await open_service(config, clock, events)
    try:
        assert await expire(second) == [plan.id]
        assert (await second.get_plan(plan.id)).state == "rejected"
        assert len(events) == 1
    finally:
        await second.close()
