"""What the one claim / renew / fenced-write / release mechanism guarantees, on every backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import ManualClock
from core.errors import LeaseLost
from core.store import Database
from core.store.tables import work_items
from core.work import WorkQueue

LEASE = 30.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def queue(database: Database, clock: ManualClock) -> WorkQueue:
    return WorkQueue(database, clock)


async def test_due_work_is_claimed_by_one_worker_only(queue: WorkQueue) -> None:
    await queue.enqueue("run", "r1")
    first = await queue.claim("run", "worker-a", LEASE)
    assert [c.subject for c in first] == ["r1"] and first[0].fence == 1 and first[0].attempt == 1
    assert await queue.claim("run", "worker-b", LEASE) == [], "a held lease is not claimable"


async def test_work_that_is_not_due_yet_waits(queue: WorkQueue, clock: ManualClock) -> None:
    await queue.enqueue("run", "r1", clock.now() + timedelta(seconds=60))
    assert await queue.claim("run", "worker-a", LEASE) == []
    assert await queue.earliest_due("run") == clock.now() + timedelta(seconds=60)
    clock.advance(61)
    assert [c.subject for c in await queue.claim("run", "worker-a", LEASE)] == ["r1"]


async def test_a_lapsed_lease_is_taken_over_with_a_new_fence(queue: WorkQueue, clock: ManualClock) -> None:
    await queue.enqueue("run", "r1")
    [old] = await queue.claim("run", "worker-a", LEASE)
    clock.advance(LEASE + 1)
    [new] = await queue.claim("run", "worker-b", LEASE)
    assert new.fence == old.fence + 1 and new.taken_over and new.attempt == 2


async def test_a_fenced_write_after_a_takeover_raises_and_writes_nothing(
    queue: WorkQueue, clock: ManualClock, database: Database
) -> None:
    await queue.enqueue("run", "r1")
    [old] = await queue.claim("run", "worker-a", LEASE)
    clock.advance(LEASE + 1)
    [new] = await queue.claim("run", "worker-b", LEASE)
    with pytest.raises(LeaseLost):
        async with queue.fenced(old) as conn:
            await queue.release(conn, old, done=True)
    row = await queue.state_of("run", "r1")
    assert row["state"] == "pending" and row["owner"] == "worker-b" and row["fence"] == new.fence
    async with queue.fenced(new) as conn:
        await queue.release(conn, new, done=True)
    assert (await queue.state_of("run", "r1"))["state"] == "done"


async def test_renew_extends_the_lease_and_fails_once_lost(queue: WorkQueue, clock: ManualClock) -> None:
    await queue.enqueue("run", "r1")
    [claim] = await queue.claim("run", "worker-a", LEASE)
    clock.advance(LEASE * 0.9)
    renewed = await queue.renew(claim, LEASE)
    assert renewed is not None and renewed.lease_until > claim.lease_until
    clock.advance(LEASE * 0.9)
    assert await queue.claim("run", "worker-b", LEASE) == [], "the renewed lease still holds"
    clock.advance(LEASE)
    assert len(await queue.claim("run", "worker-b", LEASE)) == 1
    assert await queue.renew(renewed, LEASE) is None, "the old holder learns it lost the work"


async def test_release_with_a_due_time_frees_the_row_until_then(queue: WorkQueue, clock: ManualClock) -> None:
    await queue.enqueue("run", "r1")
    [claim] = await queue.claim("run", "worker-a", LEASE)
    async with queue.fenced(claim) as conn:
        await queue.release(conn, claim, due_at=clock.now() + timedelta(seconds=300))
    assert await queue.claim("run", "worker-b", LEASE) == []
    clock.advance(301)
    [again] = await queue.claim("run", "worker-b", LEASE)
    assert not again.taken_over, "a released row is not a takeover"


async def test_done_work_is_never_claimed_again_until_enqueued(queue: WorkQueue, clock: ManualClock) -> None:
    await queue.enqueue("run", "r1")
    await queue.mark_done("run", "r1")
    assert await queue.claim("run", "worker-a", LEASE) == [] and await queue.pending("run") == 0
    await queue.enqueue("run", "r1")
    assert len(await queue.claim("run", "worker-a", LEASE)) == 1


async def test_enqueue_keeps_the_holders_fence(queue: WorkQueue) -> None:
    await queue.enqueue("run", "r1")
    [claim] = await queue.claim("run", "worker-a", LEASE)
    await queue.enqueue("run", "r1")
    async with queue.fenced(claim) as conn:  # does not raise: the holder still holds it
        await queue.release(conn, claim, done=True)


async def test_kinds_are_separate(queue: WorkQueue) -> None:
    await queue.enqueue("run", "x")
    await queue.enqueue("delivery", "x")
    assert [c.kind for c in await queue.claim("delivery", "w", LEASE)] == ["delivery"]
    assert [c.kind for c in await queue.claim("run", "w", LEASE)] == ["run"]


async def test_many_workers_claiming_at_once_take_each_row_exactly_once(database: Database, clock: ManualClock) -> None:
    queues = [WorkQueue(Database(database.url), clock) for _ in range(4)]
    try:
        for index in range(40):
            await queues[0].enqueue("run", f"r{index:02d}")

        async def worker(name: str, queue: WorkQueue) -> list[str]:
            taken: list[str] = []
            for _ in range(20):
                taken += [c.subject for c in await queue.claim("run", name, LEASE, limit=3)]
                await asyncio.sleep(0)
            return taken

        results = await asyncio.gather(*(worker(f"w{i}", q) for i, q in enumerate(queues)))
        everything = [s for taken in results for s in taken]
        assert sorted(everything) == [f"r{i:02d}" for i in range(40)], "every row claimed, none twice"
        async with database.engine.connect() as conn:
            fences = (await conn.execute(select(work_items.c.fence))).scalars().all()
        assert set(fences) == {1}
    finally:
        for queue in queues:
            await queue.database.dispose()
