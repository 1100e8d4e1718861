"""The executor when things go wrong: stale jobs, re-run phases, failing reverts, missing measurements,
steps that need a person, and resumes after the plan stopped passing validation."""

from __future__ import annotations

import asyncio

from core.domain import Phase
from core.domain.plan import HealthCheck
from core.errors import ExecutionError
from core.executor.drivers.simulate import SimulateDriver
from core.executor.runner import health_problem
from core.intake import Ask
from core.service import OpsPilot

ASK = "fix drift on staging web servers"


class CountingDriver(SimulateDriver):
    """The simulate driver, counting applies and failing the reverts it is told to."""

    def __init__(self, inventory, failing_reverts=()) -> None:
        super().__init__(inventory)
        self.applied: list[str] = []
        self.failing_reverts = set(failing_reverts)

    async def apply(self, change, run_id):
        self.applied.append(change.asset_id)
        return await super().apply(change, run_id)

    async def revert(self, change, applied, run_id):
        if change.asset_id in self.failing_reverts:
            raise ExecutionError("ssh: connection refused")
        await super().revert(change, applied, run_id)


async def _first_phase_done(service: OpsPilot, run_id: str) -> None:
    """Poll instead of sleeping: a slow machine must not change what the test sees."""
    for _ in range(1000):
        if (await service.store.get_run(run_id)).progress.phases_completed >= 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first phase never completed")


async def _approved(service: OpsPilot, ask: str = ASK):
    outcome = await service.submit(Ask.from_front(ask, "U0REQUESTER"))
    assert outcome.plan.state == "awaiting_approval", outcome.plan.validation
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    return outcome.plan, decision.run


async def test_a_failing_revert_ends_the_run_failed_and_names_the_asset(service: OpsPilot) -> None:
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER"))
    canary = outcome.plan.payload.phases[0].assets[0]
    wave = outcome.plan.payload.phases[1].assets[0]
    service.executor.driver = CountingDriver(service.inventory, failing_reverts=[canary])
    service.executor.probe.fail_assets = {wave}
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    run = await service.store.get_run(decision.run.id)
    assert run.state == "failed"
    assert f"could not revert {canary}" in run.status.reason
    fleet = await service.inventory.fleet()
    assert not fleet.is_drifted(fleet.by_id()[canary]), "the stuck asset is still on the new version, as reported"
    assert fleet.is_drifted(fleet.by_id()[wave]), "every other asset was reverted anyway"


async def test_a_rerun_phase_skips_assets_it_already_changed(service: OpsPilot) -> None:
    driver = CountingDriver(service.inventory)
    service.executor.driver = driver
    service.executor.wait_scale = 1000.0
    plan, run = await _approved(service)
    await _first_phase_done(service, run.id)
    assert driver.applied == plan.payload.phases[0].assets
    # As after a crash: the job of the phase that already ran fires again.
    await service.executor._phase_job(run.id, 0)
    assert driver.applied == plan.payload.phases[0].assets, "a stale job applies nothing"
    stored = await service.store.get_run(run.id)
    stored.progress.phases_completed = 1
    second = plan.payload.phases[1].assets
    stored.phases[1].assets[0].status = "completed"
    stored.phases[1].assets[0].previous = "2.3.9"
    await service.store.save_run_progress(stored)
    await service.executor._phase_job(run.id, 1)
    assert driver.applied == plan.payload.phases[0].assets + second[1:]
    await service.control_run(run.id, "U0APPROVER1", "abort")


def test_missing_measurements_fail_the_phase() -> None:
    phase = Phase(name="Canary", assets=["a"], health_checks=[HealthCheck(type="error_rate", threshold="< 1%")],
                  rollback_if="error_rate > 1%")
    assert "error_rate was not measured" in health_problem(phase, {"latency_p99": 10})
    assert "rollback_if needs error_rate" in health_problem(phase, {})
    assert health_problem(phase, {"error_rate": 0.2}) is None
    no_threshold = Phase(name="Wave", assets=["a"], health_checks=[HealthCheck(type="cpu")])
    assert "no threshold" in health_problem(no_threshold, {"cpu": 10})
    unknown = Phase(name="Wave", assets=["a"], health_checks=[HealthCheck(type="service_running", target="nginx")])
    assert "cannot be evaluated" in health_problem(unknown, {"error_rate": 0.1})


async def test_a_step_that_needs_a_person_pauses_until_an_approver_resumes(service: OpsPilot) -> None:
    plan, run = await _approved(service, "write an SOP for rotating TLS certificates")
    needs = [s.name for s in plan.payload.steps if s.requires_confirmation and s.when != "on_failure"]
    assert needs, "the TLS SOP has destructive steps"
    for _ in needs:
        for _ in range(300):
            current = await service.store.get_run(run.id)
            if current.state == "paused":
                break
            await asyncio.sleep(0.01)
        assert current.state == "paused" and "needs a person" in current.status.reason
        refused = await service.control_run(run.id, "U0OUTSIDER", "resume")
        assert refused.status == "not_allowed"
        assert (await service.control_run(run.id, "U0APPROVER2", "resume")).status == "resumed"
    await service.executor.wait_idle(20)
    final = await service.store.get_run(run.id)
    assert final.state == "completed"
    assert {p.name: p.confirmed_by for p in final.phases if p.confirmed_by} == {n: "U0APPROVER2" for n in needs}


async def test_resume_is_refused_when_the_plan_no_longer_passes(service: OpsPilot) -> None:
    service.executor.wait_scale = 1000.0
    _, run = await _approved(service)
    await _first_phase_done(service, run.id)
    assert (await service.control_run(run.id, "U0APPROVER1", "pause")).status == "paused"
    original = service.recheck_before_run

    async def failing(plan):
        return ["policy: production_safety: a freeze is on"]

    service.executor.pre_start_check = failing
    refused = await service.control_run(run.id, "U0APPROVER1", "resume")
    assert refused.status == "invalid" and "a freeze is on" in refused.message
    assert (await service.store.get_run(run.id)).state == "paused"
    service.executor.pre_start_check = original
    await service.control_run(run.id, "U0APPROVER1", "abort")


async def test_two_runs_never_change_the_same_assets_at_once(service: OpsPilot) -> None:
    service.executor.wait_scale = 1000.0
    first_plan, first_run = await _approved(service)
    await _first_phase_done(service, first_run.id)
    second = await service.submit(Ask.from_front(ASK, "U0REQUESTER"))
    decision = await service.decide(second.plan.id, "U0APPROVER1", "approved")
    for _ in range(300):
        run = await service.store.get_run(decision.run.id)
        if run.state == "failed":
            break
        await asyncio.sleep(0.01)
    assert run.state == "failed"
    assert f"run {first_run.id[:8]} (executing) is changing" in run.status.reason
    await service.control_run(first_run.id, "U0APPROVER1", "abort")
