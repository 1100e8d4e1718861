"""Run replay: the timeline and stats of a run, from the run row, its per-asset rows and the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, event, update

from core.errors import NotFound
from core.executor.drivers.simulate import SimulateDriver
from core.intake import Ask
from core.replay import Replay, replay
from core.service import OpsPilot
from core.store.tables import run_assets, runs

ASK = "fix drift on staging web servers"


async def _run(service: OpsPilot, *, before_approval=None):
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval"
    if before_approval is not None:
        before_approval(outcome.plan)
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    return outcome.plan, decision.run.id


def _position(result: Replay, kind: str, name: str, status: str) -> int:
    for index, item in enumerate(result.timeline):
        if (item.kind, item.name, item.status) == (kind, name, status):
            return index
    raise AssertionError(f"no {kind} {name} {status} event in the timeline")


async def test_a_completed_run_replays_run_phase_and_asset_events_in_order(service: OpsPilot) -> None:
    plan, run_id = await _run(service)
    result = await replay(service.store, run_id)
    phases = plan.payload.phases
    assets = plan.payload.affected_assets

    assert result.run.state == "completed" and result.run.id == run_id and not result.run.legacy
    first, last = result.timeline[0], result.timeline[-1]
    assert (first.kind, first.name, first.actor) == ("run", "created", "U0APPROVER1")
    assert (last.kind, last.name) == ("run", "completed")
    times = [e.at for e in result.timeline]
    assert all(t is not None for t in times) and times == sorted(times)
    assert _position(result, "run", "executing", "executing") < _position(result, "phase", phases[0].name, "started")
    for index, phase in enumerate(phases):
        started = _position(result, "phase", phase.name, "started")
        completed = _position(result, "phase", phase.name, "completed")
        assert result.timeline[completed].duration_seconds is not None
        for asset_id in phase.assets:
            assert (
                started
                < _position(result, "asset", asset_id, "started")
                < _position(result, "asset", asset_id, "succeeded")
                < completed
            )
            done = result.timeline[_position(result, "asset", asset_id, "succeeded")]
            assert done.phase_index == index and done.attempt == 1 and done.duration_seconds is not None
        if index:
            assert _position(result, "phase", phases[index - 1].name, "completed") < started

    stats = result.stats
    assert stats.by_status == {"succeeded": len(assets)}
    assert stats.assets == len(assets) and stats.failed_assets == [] and stats.rolled_back_assets == []
    assert stats.event_counts["asset.succeeded"] == len(assets)
    assert stats.event_counts["asset.started"] == len(assets)
    assert stats.event_counts["phase.completed"] == len(phases)
    assert stats.event_counts["run.completed"] == stats.event_counts["run.created"] == 1
    assert sum(stats.events_by_kind.values()) == len(result.timeline)
    assert stats.phases_completed == stats.total_phases == len(phases)
    assert stats.average_asset_duration_seconds is not None and stats.average_phase_duration_seconds is not None
    assert stats.total_duration_seconds == result.run.duration_seconds


async def test_a_rolled_back_run_lists_its_rolled_back_assets(service: OpsPilot) -> None:
    def third_phase_is_unhealthy(plan) -> None:
        service.executor.probe.fail_assets = {plan.payload.phases[2].assets[0]}

    plan, run_id = await _run(service, before_approval=third_phase_is_unhealthy)
    result = await replay(service.store, run_id)
    changed = [a for phase in plan.payload.phases[:3] for a in phase.assets]

    assert result.run.state == "rolled_back" and "error_rate" in result.run.reason
    assert result.timeline[-1].kind == "run" and result.timeline[-1].name == "rolled_back"
    assert "error_rate" in result.timeline[-1].reason
    assert sorted(result.stats.rolled_back_assets) == sorted(changed)
    assert result.stats.by_status["rolled_back"] == len(changed)
    assert result.stats.event_counts["asset.rolled_back"] == len(changed)
    assert result.stats.event_counts["phase.rolled_back"] == 3
    assert result.stats.phases_completed == 2


async def test_a_driver_failure_lists_the_failed_asset_with_its_error(service: OpsPilot) -> None:
    failing: list[str] = []

    def canary_driver_fails(plan) -> None:
        failing.append(plan.payload.phases[0].assets[0])
        service.executor.driver = SimulateDriver(service.inventory, fail_assets=failing)

    plan, run_id = await _run(service, before_approval=canary_driver_fails)
    result = await replay(service.store, run_id)

    assert result.run.state == "rolled_back"
    assert [(f.id, f.phase, f.status) for f in result.stats.failed_assets] == [
        (failing[0], plan.payload.phases[0].name, "failed")
    ]
    assert "simulated apply failure" in result.stats.failed_assets[0].error
    failed_event = result.timeline[_position(result, "asset", failing[0], "failed")]
    assert "simulated apply failure" in failed_event.error


async def test_a_run_made_before_per_asset_rows_replays_from_its_document(service: OpsPilot) -> None:
    plan, run_id = await _run(service)
    with_assets = await service.store.get_run(run_id)
    documents = [p.model_dump(mode="json") for p in with_assets.phases]
    assert all(d["assets"] for d in documents)
    async with service.store.database.engine.begin() as conn:
        await conn.execute(delete(run_assets).where(run_assets.c.run_id == run_id))
        await conn.execute(update(runs).where(runs.c.id == run_id).values(phases=documents))

    result = await replay(service.store, run_id)

    assert result.run.legacy and result.run.state == "completed"
    asset_events = [e for e in result.timeline if e.kind == "asset"]
    assert sorted(e.name for e in asset_events) == sorted(plan.payload.affected_assets)
    assert all(e.at is None and e.status == "succeeded" for e in asset_events)
    assert result.stats.by_status == {"succeeded": len(plan.payload.affected_assets)}
    canary = plan.payload.phases[0]
    assert (
        _position(result, "phase", canary.name, "started")
        < _position(result, "asset", canary.assets[0], "succeeded")
        < _position(result, "phase", canary.name, "completed")
    )
    assert "asset events have no times" in result.to_text()


async def test_a_unique_prefix_of_eight_characters_names_the_run(service: OpsPilot) -> None:
    _, run_id = await _run(service)
    assert (await replay(service.store, run_id[:8])).run.id == run_id
    assert (await service.run_status(run_id[:10])).run.id == run_id
    with pytest.raises(NotFound):
        await replay(service.store, run_id[:7])
    with pytest.raises(NotFound):
        await replay(service.store, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        await replay(service.store, "%%%%%%%%")


async def test_ten_thousand_assets_replay_with_a_fixed_number_of_queries(service: OpsPilot) -> None:
    _, run_id = await _run(service)
    store = service.store
    rows = await store.run_assets.rows(run_id)
    start = rows[0].started_at
    async with store.database.engine.begin() as conn:
        await store.run_assets.insert(conn, run_id, [(0, f"bulk-{i:05d}", "asset") for i in range(10_000)])
        await conn.execute(
            update(run_assets)
            .where(run_assets.c.run_id == run_id, run_assets.c.asset_id.like("bulk-%"))
            .values(status="succeeded", attempt=1, started_at=start, ended_at=start + timedelta(seconds=2), output="x" * 3_000)
        )
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sync_engine = store.database.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        result = await replay(store, run_id)
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)

    assert result.stats.assets == len(rows) + 10_000
    assert result.stats.event_counts["asset.succeeded"] == len(rows) + 10_000
    assert len(statements) <= 6, statements
    assert sum(1 for s in statements if "run_assets" in s) == 1
    assert "bulk-00000" not in result.to_text(), "asset lines are summarised per phase"
    assert "bulk-00000" in result.to_text(assets=True)
