"""What fronts keep in the database, on every backend: rate-limit windows shared by replicas, and a plan's message ref
changed key by key without losing a concurrent change."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.store.message_refs import merge_message_ref
from core.store.rate_limits import RateLimits
from core.timeutil import utcnow
from tests.core.store.test_store_contract import _plan, _task


async def test_a_window_is_kept_until_it_ends_and_a_later_one_wins(store) -> None:
    limits, now = RateLimits(store.database), utcnow()
    assert await limits.until("chat.postMessage", "C1") is None
    await limits.record("chat.postMessage", "C1", now + timedelta(seconds=30), now)
    await limits.record("chat.postMessage", "C1", now + timedelta(seconds=10), now)  # an earlier end does not shorten it
    until = await limits.until("chat.postMessage", "C1")
    assert until is not None and abs((until - now).total_seconds() - 30) < 1
    assert await limits.until("chat.postMessage", "C2") is None
    await limits.record("chat.postMessage", "", now + timedelta(seconds=60), now)  # the method as a whole
    assert await limits.until("chat.postMessage", "C2") == now + timedelta(seconds=60)

    later = now + timedelta(seconds=120)
    await limits.record("chat.update", "C1", later + timedelta(seconds=5), later)  # prunes the windows that ended
    assert await limits.until("chat.postMessage", "C1") is None


async def test_replicas_recording_the_same_window_at_once_do_not_collide(store) -> None:
    limits, now = RateLimits(store.database), utcnow()
    ends = [now + timedelta(seconds=s) for s in (5, 20, 10, 15)]
    await asyncio.gather(*(limits.record("chat.postMessage", "C1", end, now) for end in ends))
    assert await limits.until("chat.postMessage", "C1") == max(ends)


async def test_message_ref_changes_merge_and_none_removes_a_key(store) -> None:
    task = _task()
    await store.add_task(task, "U1")
    plan = _plan(task.id)
    await store.add_plan(plan, "U1")
    assert await merge_message_ref(store.database, "missing", {"ts": "1"}) is None
    await merge_message_ref(store.database, plan.id, {"front": "slack", "channel": "C1", "ts": "1.0"})
    await asyncio.gather(*(merge_message_ref(store.database, plan.id, {f"progress:{n}": str(n)}) for n in range(5)))
    ref = await merge_message_ref(store.database, plan.id, {"card": "abc", "progress:0": None})
    assert ref == {"front": "slack", "channel": "C1", "ts": "1.0", "card": "abc"} | {f"progress:{n}": str(n) for n in range(1, 5)}
    assert await store.message_ref(plan.id) == ref
