"""The executor on the embedded defaults: phases in order, rollback on bad health, resume after a restart."""

from __future__ import annotations

from core.events import PhaseCompleted, PhaseStarted, RunFinished
from core.intake import Ask
from core.service import OpsPilot

ASK = "fix drift on staging web servers"


async def _approved_run(service: OpsPilot):
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval"
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    return outcome.plan, await service.store.get_run(decision.run.id)


async def test_run_goes_phase_by_phase_and_fixes_every_asset(service: OpsPilot) -> None:
    seen: list[str] = []

    async def record(event) -> None:
        seen.append(f"{type(event).__name__}:{getattr(event, 'index', '')}")

    service.bus.subscribe(record, PhaseStarted, PhaseCompleted, RunFinished)
    plan, run = await _approved_run(service)
    phases = len(plan.payload.phases)
    assert run.state == "completed"
    assert run.progress.phases_completed == phases
    assert run.metrics.assets_changed == len(plan.payload.affected_assets)
    expected = [f"{kind}:{i}" for i in range(phases) for kind in ("PhaseStarted", "PhaseCompleted")] + ["RunFinished:"]
    assert seen == expected
    fleet = await service.inventory.fleet()
    assert not any(fleet.is_drifted(fleet.by_id()[a]) for a in plan.payload.affected_assets)


async def test_bad_health_rolls_back_every_changed_asset(config) -> None:
    fleet_before = None
    config.executor.simulate.fail_assets = []
    service = await OpsPilot.create(config)
    await service.start()
    try:
        fleet_before = await service.inventory.fleet()
        outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
        third_phase_asset = outcome.plan.payload.phases[2].assets[0]
        service.executor.probe.fail_assets = {third_phase_asset}
        decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
        await service.executor.wait_idle(20)
        run = await service.store.get_run(decision.run.id)
        assert run.state == "rolled_back"
        assert "error_rate" in run.status.reason
        assert run.progress.phases_completed == 2
        fleet_after = await service.inventory.fleet()
        for asset_id in outcome.plan.payload.affected_assets:
            assert fleet_after.by_id()[asset_id].image_version == fleet_before.by_id()[asset_id].image_version
        assert all(a.status in ("rolled_back", "pending") for p in run.phases for a in p.assets)
    finally:
        await service.close()


async def test_a_restart_keeps_the_remaining_wait_and_resumes_at_the_next_phase(config) -> None:
    import asyncio

    config.executor.wait_scale = 0.0025  # staging canary wait 10m -> 1.5 s, waves 5m -> 0.75 s
    first = await OpsPilot.create(config)
    await first.start()
    outcome = await first.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
    decision = await first.decide(outcome.plan.id, "U0APPROVER1", "approved")
    run_id = decision.run.id
    for _ in range(300):
        run = await first.store.get_run(run_id)
        if run.progress.phases_completed == 1 and run.progress.next_phase_at:
            break
        await asyncio.sleep(0.01)
    due = run.progress.next_phase_at
    await first.close()

    second = await OpsPilot.create(config)
    await second.start()
    try:
        await second.executor.wait_idle(30)
        run = await second.store.get_run(run_id)
        assert run.state == "completed"
        assert run.progress.phases_completed == len(outcome.plan.payload.phases)
        assert run.phases[1].started_at >= due, "the canary soak was waited out after the restart"
        entries = [e for e in await second.store.audit_entries([run_id]) if e.to_state == "executing"]
        assert len(entries) == 1, "the run was not started twice"
    finally:
        await second.close()


async def test_a_probe_that_breaks_mid_run_pauses_as_inconclusive_and_abort_rolls_back(service: OpsPilot) -> None:
    from core.errors import ExecutionError
    from core.executor.health import HealthProbe

    class BrokenProbe(HealthProbe):
        name = "broken"
        calls = 0

        async def measure(self, phase, assets):
            BrokenProbe.calls += 1
            if BrokenProbe.calls == 2:
                raise ExecutionError("prometheus did not answer")
            return {"error_rate": 0.1, "http_ok": 100.0, "latency_p99": 100.0}

    before = await service.inventory.fleet()
    service.executor.probe = BrokenProbe()
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    run = await service.store.get_run(decision.run.id)
    assert run.state == "paused", "no data is not a verdict: a person decides"
    assert "inconclusive" in run.status.reason and "prometheus did not answer" in run.status.reason
    assert run.progress.phases_completed == 2
    aborted = await service.control_run(run.id, "U0APPROVER2", "abort")
    assert aborted.status == "aborted" and aborted.run.state == "rolled_back"
    after = await service.inventory.fleet()
    for asset_id in outcome.plan.payload.affected_assets:
        assert after.by_id()[asset_id].image_version == before.by_id()[asset_id].image_version
