"""Delivering the outbox: order per partition, retries with backoff, dead letters, crashes and replicas."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select, update

from core.clock import ManualClock
from core.errors import DeliveryFailed, DeliveryRejected
from core.events import PhaseCompleted, PhaseStarted, RunFinished, TaskCreated
from core.outbox import CloudEvent, Delivery, Subscriber
from core.outbox.dispatcher import Dispatcher, RetryPolicy, dead_letters, outbox_stats, redeliver, requeue_orphans
from core.outbox.writer import Outbox
from core.store import Database
from core.store.tables import outbox_deliveries, outbox_events
from core.work.queue import WorkQueue


@dataclass
class Recorder(Subscriber):
    name: str = "recorder"
    types: tuple[str, ...] = ()
    fail_times: int = 0  # the first N attempts of every event fail
    reject: bool = False
    hang: bool = False
    seen: list[Delivery] = field(default_factory=list)

    def wants(self, event: CloudEvent) -> bool:
        return not self.types or event.type in self.types

    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        self.seen.append(delivery)
        if self.hang:
            await asyncio.sleep(3600)
        if self.reject:
            raise DeliveryRejected("the receiver refuses it for good (HTTP 410)")
        if delivery.attempt <= self.fail_times:
            raise DeliveryFailed("HTTP 500 from the receiver")
        return {"ok": delivery.event.id}

    @property
    def ids(self) -> list[str]:
        return [d.event.id for d in self.seen]


def phase(task: str, index: int, started: bool = True) -> PhaseStarted | PhaseCompleted:
    common = {"task_id": task, "plan_id": f"plan-{task}", "run_id": f"run-{task}", "index": index, "name": f"wave {index}"}
    if started:
        return PhaseStarted(**common, total_phases=3, assets=("web-1",))
    return PhaseCompleted(**common, total_phases=3, assets_changed=1, health={}, next_wait_seconds=None)


async def write(database: Database, outbox: Outbox, *events: Any) -> list[CloudEvent]:
    async with database.engine.begin() as conn:
        return await outbox.add_all(conn, events)


def make(database: Database, clock: ManualClock, *subscribers: Subscriber, **retry: Any) -> tuple[Outbox, Dispatcher]:
    work = WorkQueue(database, clock)
    outbox = Outbox(work, clock)
    outbox.register(*subscribers)
    policy = RetryPolicy(**{"attempts": 3, "max_backoff": 60.0, "timeout": 0.5, **retry})
    return outbox, Dispatcher(outbox, work, retry=policy, clock=clock)


async def test_a_rolled_back_transaction_leaves_no_event_and_no_delivery(database: Database) -> None:
    clock = ManualClock()
    outbox, _ = make(database, clock, Recorder())
    with pytest.raises(RuntimeError):
        async with database.engine.begin() as conn:
            await outbox.add(conn, TaskCreated(task_id="t1", user_intent="fix drift", origin={}))
            raise RuntimeError("the state change failed")
    async with database.engine.connect() as conn:
        assert (await conn.execute(select(outbox_events))).all() == []
        assert (await conn.execute(select(outbox_deliveries))).all() == []


async def test_events_of_one_task_reach_a_subscriber_in_order_each_once(database: Database) -> None:
    clock = ManualClock()
    recorder = Recorder()
    outbox, dispatcher = make(database, clock, recorder)
    written = []
    for index in range(3):
        written += await write(database, outbox, phase("t1", index), phase("t1", index, started=False))
        written += await write(database, outbox, phase("t2", index))
    await dispatcher.run_until_idle()
    await dispatcher.run_until_idle()  # nothing is delivered twice
    assert sorted(recorder.ids) == sorted(e.id for e in written)
    t1 = [d.event.id for d in recorder.seen if d.event.task_id == "t1"]
    assert t1 == [e.id for e in written if e.task_id == "t1"]
    stats = await outbox_stats(database, clock)
    assert stats.pending == {} and stats.dead == {}


async def test_the_envelope_is_a_cloudevent_with_the_outcome_as_its_type(database: Database) -> None:
    clock = ManualClock()
    recorder = Recorder()
    outbox, dispatcher = make(database, clock, recorder)
    common = {"task_id": "t1", "plan_id": "p1", "run_id": "r1", "reason": "health failed", "assets_changed": 2}
    finished = {"assets_rolled_back": 2, "phases_completed": 1, "total_phases": 3, "duration_seconds": 12.0}
    await write(database, outbox, RunFinished(state="rolled_back", **common, **finished))
    await write(database, outbox, RunFinished(state="failed", **common, **finished))
    await write(database, outbox, RunFinished(state="completed", **common, **finished))
    await dispatcher.run_until_idle()
    events = [d.event for d in recorder.seen]
    assert [e.type for e in events] == ["run.rolled_back", "task.failed", "task.completed"]
    assert [e.severity for e in events] == ["critical", "critical", "info"]
    first = events[0]
    assert first.specversion == "1.0" and first.source and first.subject == "r1"
    assert first.datacontenttype == "application/json" and first.data["assets_rolled_back"] == 2
    trace = first.traceparent or ""
    assert trace.startswith("00-") and len(trace.split("-")[1]) == 32
    assert len({e.traceparent.split("-")[1] for e in events if e.traceparent}) == 1  # one trace per task


async def test_a_failing_delivery_is_retried_after_a_backoff_and_holds_back_later_events_of_its_task(database: Database) -> None:
    clock = ManualClock()
    flaky = Recorder(fail_times=1)
    outbox, dispatcher = make(database, clock, flaky)
    first, second = await write(database, outbox, phase("t1", 0), phase("t1", 0, started=False))
    await dispatcher.run_until_idle()
    assert flaky.ids == [first.id]  # the second waits for the first: a thread never shows them out of order
    async with database.engine.connect() as conn:
        row = (await conn.execute(select(outbox_deliveries).where(outbox_deliveries.c.event_id == first.id))).mappings().one()
    assert row["status"] == "pending" and row["attempt"] == 1 and "HTTP 500" in row["last_error"]
    clock.advance(0.2)
    await dispatcher.run_until_idle()
    assert flaky.ids == [first.id]  # not before its backoff (at least half of 1s)
    clock.advance(2)
    await dispatcher.run_until_idle()
    assert flaky.ids == [first.id, first.id, second.id]  # the second's first attempt fails too
    clock.advance(2)
    await dispatcher.run_until_idle()
    assert flaky.ids == [first.id, first.id, second.id, second.id]
    assert [d.attempt for d in flaky.seen] == [1, 2, 1, 2]


async def test_a_failing_subscriber_never_holds_up_another(database: Database) -> None:
    clock = ManualClock()
    down, fine = Recorder(name="down", fail_times=100), Recorder(name="fine")
    outbox, dispatcher = make(database, clock, down, fine)
    written = await write(database, outbox, phase("t1", 0), phase("t1", 1))
    await dispatcher.run_until_idle()
    assert fine.ids == [e.id for e in written]


async def test_a_hanging_subscriber_is_cut_and_retried_without_holding_up_others(database: Database) -> None:
    clock = ManualClock()
    hanging, fine = Recorder(name="hanging", hang=True), Recorder(name="fine")
    outbox, dispatcher = make(database, clock, hanging, fine, timeout=0.2)
    (event,) = await write(database, outbox, phase("t1", 0))
    await dispatcher.run_until_idle()
    assert fine.ids == [event.id]
    async with database.engine.connect() as conn:
        row = (await conn.execute(select(outbox_deliveries).where(outbox_deliveries.c.subscriber == "hanging"))).mappings().one()
    assert row["status"] == "pending" and "no answer within" in row["last_error"]


async def test_after_the_last_attempt_a_delivery_is_dead_lettered_and_can_be_sent_again(database: Database) -> None:
    clock = ManualClock()
    down = Recorder(fail_times=3)
    outbox, dispatcher = make(database, clock, down, attempts=3)
    letters_seen = []

    async def on_dead(letter, event) -> None:
        letters_seen.append((letter, event))

    dispatcher.on_dead_letter = on_dead
    first, second = await write(database, outbox, phase("t1", 0), phase("t1", 1))
    for _ in range(8):
        await dispatcher.run_until_idle()
        clock.advance(120)
    letters = await dead_letters(database)
    assert {(d.event_id, d.attempt) for d in letters} == {(first.id, 3), (second.id, 3)}
    assert all("gave up after 3 attempt(s)" in (d.last_error or "") for d in letters)
    assert [letter.event_id for letter, _ in letters_seen] == [first.id, second.id]
    assert (await outbox_stats(database, clock)).dead == {"recorder": 2}

    down.fail_times = 0
    requeued = await redeliver(database, dispatcher.work, str(letters[-1].id))
    assert [d.event_id for d in requeued] == [letters[-1].event_id]
    await dispatcher.run_until_idle()
    assert down.seen[-1].event.id == letters[-1].event_id and down.seen[-1].attempt == 1
    assert len(await dead_letters(database)) == 1
    assert await redeliver(database, dispatcher.work, "no-such-id") == []


async def test_a_rejected_delivery_is_dead_lettered_at_once(database: Database) -> None:
    clock = ManualClock()
    refusing = Recorder(reject=True)
    outbox, dispatcher = make(database, clock, refusing, attempts=8)
    (event,) = await write(database, outbox, phase("t1", 0))
    await dispatcher.run_until_idle()
    (letter,) = await dead_letters(database)
    assert letter.event_id == event.id and letter.attempt == 1 and "410" in (letter.last_error or "")


async def test_a_malformed_event_row_is_dead_lettered_with_the_reason_and_the_next_one_goes_out(database: Database) -> None:
    clock = ManualClock()
    recorder = Recorder()
    outbox, dispatcher = make(database, clock, recorder)
    broken, fine = await write(database, outbox, phase("t1", 0), phase("t1", 1))
    async with database.engine.begin() as conn:  # edited by hand
        await conn.execute(update(outbox_events).where(outbox_events.c.id == broken.id).values(envelope='{"specversion": 1'))
    await dispatcher.run_until_idle()
    assert recorder.ids == [fine.id]
    (letter,) = await dead_letters(database)
    assert letter.event_id == broken.id and "malformed event row" in (letter.last_error or "")


async def test_an_attempt_cut_by_a_crash_is_repeated_and_flagged_unfinished(database: Database) -> None:
    clock = ManualClock()
    recorder = Recorder()
    outbox, dispatcher = make(database, clock, recorder)
    (event,) = await write(database, outbox, phase("t1", 0))
    async with database.engine.begin() as conn:  # what a process killed during deliver() leaves behind
        await conn.execute(
            update(outbox_deliveries).where(outbox_deliveries.c.event_id == event.id).values(attempt=1, started_at=clock.now())
        )
    await dispatcher.run_until_idle()
    (delivery,) = recorder.seen
    assert delivery.unfinished and delivery.attempt == 2


async def test_two_replicas_deliver_each_event_exactly_once(database: Database) -> None:
    clock = ManualClock()
    seen: list[str] = []

    @dataclass
    class Shared(Recorder):
        async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
            seen.append(delivery.event.id)
            await asyncio.sleep(0.001)
            return None

    one, two = Shared(), Shared()
    outbox_a, dispatcher_a = make(database, clock, one)
    _, dispatcher_b = make(database, clock, two)
    written = []
    for task in range(10):
        written += await write(database, outbox_a, *(phase(f"t{task}", i) for i in range(3)))
    await asyncio.gather(dispatcher_a.run_until_idle(), dispatcher_b.run_until_idle())
    await dispatcher_a.run_until_idle()
    assert sorted(seen) == sorted(e.id for e in written)


async def test_a_delivery_whose_work_item_went_missing_is_picked_up_again(database: Database) -> None:
    clock = ManualClock()
    recorder = Recorder()
    outbox, dispatcher = make(database, clock, recorder)
    (event,) = await write(database, outbox, phase("t1", 0))
    await dispatcher.work.mark_done("delivery", f"recorder|{event.partition}")
    await dispatcher.run_until_idle()
    assert recorder.seen == []
    assert await requeue_orphans(database, dispatcher.work) == 1
    await dispatcher.run_until_idle()
    assert recorder.ids == [event.id]


async def test_the_result_a_subscriber_returns_is_recorded(database: Database) -> None:
    clock = ManualClock()
    recorder = Recorder()
    outbox, dispatcher = make(database, clock, recorder)
    (event,) = await write(database, outbox, phase("t1", 0))
    await dispatcher.run_until_idle()
    async with database.engine.connect() as conn:
        row = (await conn.execute(select(outbox_deliveries))).mappings().one()
    assert row["status"] == "delivered" and json.loads(row["result"]) == {"ok": event.id}


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    import random

    policy = RetryPolicy(attempts=8, max_backoff=300.0)
    rng = random.Random(7)
    waits = [policy.backoff(n, rng) for n in range(1, 12)]
    assert 0.5 <= waits[0] <= 1.0 and 4.0 <= waits[3] <= 8.0
    assert all(150.0 <= w <= 300.0 for w in waits[9:])
