"""The newest runs of a channel (``/ops runs``, ``/ops status`` without an id): one indexed query over thousands."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from core.store import Store
from core.store.recent_runs import recent_runs, recent_runs_query
from core.store.tables import plans, runs, tasks

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _seed(store: Store, count: int) -> None:
    """``count`` runs, one task and plan each; every tenth asked in C0OPS, the rest in C0OTHER (one from the API)."""
    task_rows, plan_rows, run_rows = [], [], []
    for i in range(count):
        at = T0 + timedelta(minutes=i)
        channel = "C0OPS" if i % 10 == 0 else "C0OTHER"
        origin = {"front": "rest"} if i == count - 1 else {"front": "slack", "channel": channel}
        task_rows.append(
            {
                "id": f"task-{i:05d}",
                "user_intent": f"ask {i}",
                "origin": origin,
                "state": "planned",
                "created_at": at,
                "updated_at": at,
            }
        )
        plan_rows.append(
            {
                "id": f"plan-{i:05d}",
                "task_id": f"task-{i:05d}",
                "type": "drift_plan",
                "payload": {"summary": f"plan {i}"},
                "state": "approved",
                "created_at": at,
                "updated_at": at,
            }
        )
        run_rows.append(
            {
                "id": f"run-{i:05d}",
                "plan_id": f"plan-{i:05d}",
                "environment": "staging",
                "progress": {},
                "phases": [],
                "metrics": {},
                "state": "completed",
                "created_at": at,
                "updated_at": at,
            }
        )
    async with store.database.engine.begin() as conn:
        await conn.execute(insert(tasks), task_rows)
        await conn.execute(insert(plans), plan_rows)
        await conn.execute(insert(runs), run_rows)


async def test_the_newest_runs_of_a_channel_newest_first_and_no_more_than_asked(store: Store) -> None:
    await _seed(store, 3000)

    started = time.perf_counter()
    mine = await recent_runs(store.database, channel="C0OPS", limit=10)
    elapsed = time.perf_counter() - started

    assert [r.run_id for r in mine] == [f"run-{i:05d}" for i in range(2990, 2890, -10)]
    assert mine[0].ask == "ask 2990" and mine[0].summary == "plan 2990" and mine[0].environment == "staging"
    assert mine[0].created_at == T0 + timedelta(minutes=2990)
    assert [r.run_id for r in await recent_runs(store.database, limit=2)] == ["run-02999", "run-02998"]
    assert await recent_runs(store.database, channel="C0NONE") == []
    assert elapsed < 1.0


async def test_the_query_walks_runs_by_their_creation_index(store: Store) -> None:
    if store.database.url.startswith("postgresql"):
        return  # the planner's choice depends on table statistics there; the index exists on both (migration 0007)
    query = recent_runs_query("C0OPS", 10).compile(store.database.engine, compile_kwargs={"literal_binds": True})
    async with store.database.engine.connect() as conn:
        plan = (await conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))).all()
    assert any("ix_runs_created" in str(row) for row in plan)
