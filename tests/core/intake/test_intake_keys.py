"""A delivery key is claimed once: a retry or a replay is recognised without an error and changes nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.asks import AskQueue
from core.clock import ManualClock
from core.intake import Ask
from core.intake.keys import MAX_KEY_CHARS, IntakeKey, IntakeKeys
from core.store import Database
from core.store.tables import asks, intake_keys, work_items


async def _count(database: Database, table) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


async def test_a_key_is_claimed_once_and_a_repeat_changes_nothing(database: Database) -> None:
    keys = IntakeKeys(database)
    key = IntakeKey.of("slack_event", "slack", "event", "Ev0123")
    assert await keys.claim(key) is True
    assert await keys.claim(key) is False
    assert await keys.seen("slack:event:Ev0123")
    assert await _count(database, intake_keys) == 1


async def test_concurrent_claims_of_one_key_have_exactly_one_winner(database: Database) -> None:
    keys = IntakeKeys(database)
    key = IntakeKey.of("slack_command", "slack", "command", "T1", "U1", "trigger-1")
    results = await asyncio.gather(*(keys.claim(key) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_an_ask_and_its_key_are_recorded_together_and_a_retry_records_nothing(database: Database) -> None:
    queue = AskQueue(database, ManualClock())
    key = IntakeKey.of("slack_event", "slack", "event", "Ev0456")
    ask = Ask.from_front("fix drift on prod web servers", "U1", "C1", front="slack", via="mention", channel="C1", user="U1")
    first = await queue.record(ask, front="slack", key=key, reply={"response_url": "https://hooks.example/1"})
    again = await queue.record(ask, front="slack", key=key)
    assert first is not None and again is None
    assert await _count(database, asks) == 1
    assert await _count(database, work_items) == 1
    recorded = await queue.get(first)
    assert recorded is not None and recorded.state == "pending" and recorded.task_id
    assert recorded.ask.origin["ask_id"] == first
    assert recorded.origin["response_url"] == "https://hooks.example/1"  # for the answer, not the task
    assert "response_url" not in recorded.ask.origin


async def test_a_key_too_long_for_the_column_keeps_its_prefix_and_stays_unique(database: Database) -> None:
    keys = IntakeKeys(database)
    one = IntakeKey.of("slack_action", "slack", "action", "x" * 300, "a")
    two = IntakeKey.of("slack_action", "slack", "action", "x" * 300, "b")
    assert len(one.key) == MAX_KEY_CHARS and one.key.startswith("slack:action:xxx") and one.key != two.key
    assert await keys.claim(one) and await keys.claim(two)
