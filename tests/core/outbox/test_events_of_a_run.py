"""A whole ask → approval → run writes its events to the outbox, in order, with the outcome as the type."""

from __future__ import annotations

from sqlalchemy import select

from core.intake import Ask
from core.outbox import CloudEvent
from core.service import OpsPilot
from core.store.tables import outbox_events


async def domain_events(service: OpsPilot) -> list[CloudEvent]:
    async with service.store.database.engine.connect() as conn:
        rows = (await conn.execute(select(outbox_events.c.envelope).order_by(outbox_events.c.seq))).scalars().all()
    return [e for e in (CloudEvent.from_json(r) for r in rows) if e.type != "audit.appended"]


async def test_an_approved_run_writes_its_story_in_order(service: OpsPilot) -> None:
    outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
    decided = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(30)
    story = await domain_events(service)
    types = [e.type for e in story]
    phases = decided.run.progress.total_phases
    assert types == [
        "task.created",
        "task.planned",
        "task.approval.required",
        "plan.decided",
        "task.started",
        *["run.phase.started", "run.phase.completed"] * phases,
        "task.completed",
    ]
    assert {e.environment for e in story if e.type != "task.created"} == {"development"}
    assert len({e.id for e in story}) == len(story)
    assert story[-1].data["state"] == "completed" and story[-1].subject == decided.run.id


async def test_a_rolled_back_run_is_not_reported_as_completed(config) -> None:
    service = await OpsPilot.create(config)
    await service.start()
    try:
        outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
        service.executor.probe.fail_assets = {outcome.plan.payload.phases[0].assets[0]}
        await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
        await service.executor.wait_idle(30)
        story = await domain_events(service)
    finally:
        await service.close()
    last = story[-1]
    assert last.type == "run.rolled_back" and last.severity == "critical" and last.data["state"] == "rolled_back"
    assert "task.completed" not in [e.type for e in story]


async def test_every_audit_entry_is_an_event_too(service: OpsPilot) -> None:
    outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
    entries = await service.store.audit_entries([outcome.task.id, outcome.plan.id])
    async with service.store.database.engine.connect() as conn:
        rows = (await conn.execute(select(outbox_events.c.envelope).where(outbox_events.c.type == "audit.appended"))).scalars()
        audited = [CloudEvent.from_json(r).data["event"] for r in rows]
    assert sorted(audited) == sorted(e.event for e in entries)
