"""REST Idempotency-Key bookkeeping: run once, replay the answer, refuse another body or a request still running."""

from __future__ import annotations

import asyncio

from core.clock import ManualClock
from core.intake.idempotency import STALE_SECONDS, IdempotencyKeys, Stored, key_problem
from core.store import Database

SCOPE, ROUTE = "token:abc", "POST /api/v1/ai/execute"


async def test_the_first_answer_is_replayed_for_the_same_body(database: Database) -> None:
    keys = IdempotencyKeys(database, ManualClock())
    assert (await keys.begin(SCOPE, ROUTE, "k1", "hash-a")).verdict == "run"
    await keys.finish(SCOPE, ROUTE, "k1", Stored(201, '{"task": 1}', {"Location": "/t/1"}))
    again = await keys.begin(SCOPE, ROUTE, "k1", "hash-a")
    assert again.verdict == "replay"
    assert again.stored == Stored(201, '{"task": 1}', {"Location": "/t/1"})


async def test_another_body_conflicts_and_a_running_first_request_is_reported(database: Database) -> None:
    keys = IdempotencyKeys(database, ManualClock())
    assert (await keys.begin(SCOPE, ROUTE, "k2", "hash-a")).verdict == "run"
    assert (await keys.begin(SCOPE, ROUTE, "k2", "hash-a")).verdict == "in_progress"
    assert (await keys.begin(SCOPE, ROUTE, "k2", "hash-b")).verdict == "conflict"


async def test_keys_are_scoped_by_caller_and_route(database: Database) -> None:
    keys = IdempotencyKeys(database, ManualClock())
    assert (await keys.begin(SCOPE, ROUTE, "k3", "h")).verdict == "run"
    assert (await keys.begin("token:other", ROUTE, "k3", "h")).verdict == "run"
    assert (await keys.begin(SCOPE, "POST /api/v1/ai/tasks/1/approve", "k3", "h")).verdict == "run"


async def test_concurrent_first_requests_run_once(database: Database) -> None:
    keys = IdempotencyKeys(database, ManualClock())
    verdicts = [b.verdict for b in await asyncio.gather(*(keys.begin(SCOPE, ROUTE, "k4", "h") for _ in range(6)))]
    assert verdicts.count("run") == 1 and verdicts.count("in_progress") == 5


async def test_an_abandoned_request_runs_again_and_an_expired_key_is_new(database: Database) -> None:
    clock = ManualClock()
    keys = IdempotencyKeys(database, clock, keep_seconds=3600)
    assert (await keys.begin(SCOPE, ROUTE, "k5", "h")).verdict == "run"
    await keys.abandon(SCOPE, ROUTE, "k5")  # a 5xx: not remembered
    assert (await keys.begin(SCOPE, ROUTE, "k5", "h")).verdict == "run"
    await keys.finish(SCOPE, ROUTE, "k5", Stored(200, "{}", {}))
    clock.advance(3601)
    assert (await keys.begin(SCOPE, ROUTE, "k5", "other body")).verdict == "run"


async def test_a_first_request_whose_process_died_is_taken_over_after_a_while(database: Database) -> None:
    clock = ManualClock()
    keys = IdempotencyKeys(database, clock)
    assert (await keys.begin(SCOPE, ROUTE, "k6", "h")).verdict == "run"
    clock.advance(STALE_SECONDS - 1)
    assert (await keys.begin(SCOPE, ROUTE, "k6", "h")).verdict == "in_progress"
    clock.advance(2)
    assert (await keys.begin(SCOPE, ROUTE, "k6", "h")).verdict == "run"


def test_bad_keys_are_named() -> None:
    assert key_problem("") == "is empty"
    assert "longer than 255" in (key_problem("k" * 256) or "")
    assert "control" in (key_problem("abc\ndef") or "")
    assert "control" in (key_problem("caf\u00e9") or "")
    assert key_problem("0b9e2c4e-4f43-4c1d-9d3a-3f1c3f0e9b11") is None
