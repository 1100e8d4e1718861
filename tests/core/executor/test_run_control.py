"""People can pause, resume and abort a run; only approvers may, and an abort reverts what changed."""

from __future__ import annotations

import asyncio

from core.intake import Ask
from core.service import OpsPilot

ASK = "fix drift on staging web servers"


async def _running(service: OpsPilot):
    service.executor.wait_scale = 1000.0  # park the run between phases
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER"))
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    for _ in range(300):
        run = await service.store.get_run(decision.run.id)
        if run.progress.phases_completed >= 1:
            return outcome.plan, run
        await asyncio.sleep(0.01)
    raise AssertionError("the first phase never completed")


async def test_pause_then_resume_finishes_the_run(service: OpsPilot) -> None:
    plan, run = await _running(service)
    paused = await service.control_run(run.id, "U0APPROVER2", "pause")
    assert paused.status == "paused" and paused.run.state == "paused"
    assert not [j for j in service.scheduler.get_jobs() if j.id.startswith(run.id)], "no phase is scheduled while paused"

    again = await service.control_run(run.id, "U0APPROVER2", "pause")
    assert again.status == "invalid" and "paused" in again.message

    service.executor.wait_scale = 0.0
    resumed = await service.control_run(run.id, "U0APPROVER1", "resume")
    assert resumed.status == "resumed"
    await service.executor.wait_idle(20)
    final = await service.store.get_run(run.id)
    assert final.state == "completed" and final.progress.phases_completed == len(plan.payload.phases)
    moves = [(e.from_state, e.to_state, e.actor) for e in await service.store.audit_entries([run.id]) if e.to_state]
    assert ("executing", "paused", "U0APPROVER2") in moves and ("paused", "executing", "U0APPROVER1") in moves


async def test_abort_reverts_every_changed_asset(service: OpsPilot) -> None:
    before = await service.inventory.fleet()
    plan, run = await _running(service)
    aborted = await service.control_run(run.id, "U0APPROVER1", "abort")
    assert aborted.status == "aborted" and aborted.run.state == "rolled_back"
    assert aborted.run.status.reason == "aborted by U0APPROVER1"
    after = await service.inventory.fleet()
    for asset_id in plan.payload.affected_assets:
        assert after.by_id()[asset_id].image_version == before.by_id()[asset_id].image_version
    finished = await service.control_run(run.id, "U0APPROVER1", "resume")
    assert finished.status == "invalid"


async def test_abort_of_a_paused_run_rolls_back(service: OpsPilot) -> None:
    _, run = await _running(service)
    await service.control_run(run.id, "U0APPROVER1", "pause")
    aborted = await service.control_run(run.id, "U0APPROVER2", "abort")
    assert aborted.run.state == "rolled_back"


async def test_outsiders_cannot_control_a_run(service: OpsPilot) -> None:
    _, run = await _running(service)
    refused = await service.control_run(run.id, "U0OUTSIDER", "abort")
    assert refused.status == "not_allowed"
    assert (await service.store.get_run(run.id)).state == "executing"
    assert any(e.event == "run.control_refused" for e in await service.store.audit_entries([run.id]))
    await service.control_run(run.id, "U0APPROVER1", "abort")


async def test_unknown_run_and_action(service: OpsPilot) -> None:
    assert (await service.control_run("nope", "U0APPROVER1", "pause")).status == "not_found"
    _, run = await _running(service)
    assert (await service.control_run(run.id, "U0APPROVER1", "explode")).status == "invalid"
    await service.control_run(run.id, "U0APPROVER1", "abort")
