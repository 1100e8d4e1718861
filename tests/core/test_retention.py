"""Retention prunes delivered events, intake keys and finished per-asset rows after their ages; it keeps the rest."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from core.clock import ManualClock
from core.config import RetentionConfig
from core.errors import DeliveryRejected
from core.events import PhaseStarted
from core.outbox import CloudEvent, Delivery, Subscriber
from core.outbox.dispatcher import Dispatcher, RetryPolicy
from core.outbox.writer import Outbox
from core.retention import RetentionWorker, prune
from core.store import Database
from core.store.tables import intake_keys, outbox_deliveries, outbox_events, run_assets
from core.timeutil import utcnow
from core.work.queue import WorkQueue


class Picky(Subscriber):
    name = "picky"

    def wants(self, event: CloudEvent) -> bool:
        return True

    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        if delivery.event.data["index"] == 1:
            raise DeliveryRejected("refused")
        return None


def started(task: str, index: int) -> PhaseStarted:
    return PhaseStarted(task_id=task, plan_id="p", run_id="r", index=index, name="w", total_phases=2, assets=())


async def count(database: Database, table: Any) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


async def test_delivered_events_and_old_keys_are_pruned_while_dead_letters_and_recent_rows_stay(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    await database.upgrade()
    past = ManualClock(utcnow() - timedelta(days=20))
    work = WorkQueue(database, past)
    outbox = Outbox(work, past)
    outbox.register(Picky())
    async with database.engine.begin() as conn:
        await outbox.add_all(conn, [started("old", 0), started("old", 1)])  # one delivered, one dead
        await conn.execute(insert(intake_keys).values(key="slack:event:Ev1", source="slack_event", created_at=past.now()))
    await Dispatcher(outbox, work, retry=RetryPolicy(attempts=1), clock=past).run_until_idle()
    now = ManualClock()
    async with database.engine.begin() as conn:
        await Outbox(WorkQueue(database, now), now).add(conn, started("new", 0))
        await conn.execute(insert(intake_keys).values(key="slack:event:Ev2", source="slack_event", created_at=now.now()))

    pruned = await prune(database, RetentionConfig(outbox=14 * 86400, intake_keys=86400), now)

    assert (pruned.outbox_events, pruned.outbox_deliveries, pruned.intake_keys) == (1, 1, 1)
    assert await count(database, outbox_events) == 2  # the dead letter's event and the recent one stay
    assert await count(database, outbox_deliveries) == 1
    async with database.engine.connect() as conn:
        assert (await conn.execute(select(intake_keys.c.key))).scalars().all() == ["slack:event:Ev2"]
    await database.dispose()


async def test_per_asset_rows_of_runs_that_ended_long_ago_are_pruned(config) -> None:
    from core.intake import Ask
    from core.service import OpsPilot

    service = await OpsPilot.create(config)
    await service.start()
    outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
    decided = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(30)
    database = service.store.database
    assert await count(database, run_assets) > 0
    assert (await prune(database, RetentionConfig(asset_rows=90 * 86400))).asset_rows == 0
    later = ManualClock(utcnow() + timedelta(days=91))
    assert (await prune(database, RetentionConfig(asset_rows=90 * 86400), later)).asset_rows > 0
    assert await count(database, run_assets) == 0
    run = await service.store.get_run(decided.run.id, with_assets=False)
    assert run.state == "completed"  # the run row and its audit stay
    assert await service.store.audit_entries([run.id])
    await service.close()


async def test_the_retention_worker_prunes_under_a_lease_and_comes_back_after_its_interval(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    await database.upgrade()
    clock = ManualClock()
    worker = RetentionWorker(database, RetentionConfig(interval=3600), clock=clock, poll_interval=0.05)
    await worker.start()
    for _ in range(100):
        if worker.last is not None:
            break
        await asyncio.sleep(0.02)
    assert worker.last is not None
    item = await worker.work.state_of("retention", "prune")
    assert item is not None and item["state"] == "pending" and item["owner"] is None
    due = item["due_at"] if item["due_at"].tzinfo else item["due_at"].replace(tzinfo=clock.now().tzinfo)
    assert due - clock.now() == timedelta(seconds=3600)
    await worker.stop()
    await database.dispose()
