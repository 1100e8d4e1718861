"""The executor when things go wrong: stale jobs, re-run phases, failing reverts, missing measurements,
steps that need a person, and resumes after the plan stopped passing validation."""

from __future__ import annotations

import asyncio

from core.domain import Phase
from core.domain.plan import HealthCheck
from core.errors import DriverError
from core.executor.drivers import DriverAction, DriverResult
from core.executor.drivers.simulate import SimulateDriver
from core.executor.runner import health_problem
from core.intake import Ask
from core.service import OpsPilot

ASK = "fix drift on staging web servers"


class CountingDriver(SimulateDriver):
    """The simulate driver, recording every action and failing the reverts it is told to."""

    def __init__(self, inventory, failing_reverts=()) -> None:
        super().__init__(inventory)
        self.calls: list[DriverAction] = []
        self.failing_reverts = set(failing_reverts)

    @property
    def applied(self) -> list[str]:
        return [a.subject for a in self.calls if a.action == "apply"]

    async def perform(self, action: DriverAction) -> DriverResult:
        self.calls.append(action)
        if action.action == "revert" and action.subject in self.failing_reverts:
            raise DriverError("ssh: connection refused")
        return await super().perform(action)


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


async def test_an_asset_in_flight_at_a_crash_is_called_again_with_its_key_and_keeps_its_previous_state(
    service: OpsPilot,
) -> None:
    from sqlalchemy import update

    from core.store.tables import run_assets, runs, work_items

    driver = CountingDriver(service.inventory)
    service.executor.driver = driver
    service.executor.wait_scale = 1000.0
    before = await service.inventory.fleet()
    plan, run = await _approved(service)
    await _first_phase_done(service, run.id)
    canary = plan.payload.phases[0].assets[0]
    first = next(a for a in driver.calls if a.subject == canary)
    assert first.attempt == 1 and first.from_version == before.by_id()[canary].image_version
    # As after a SIGKILL between the driver call and its record: the row says running, the asset is changed,
    # the run has not recorded the phase as done, and the work is due.
    stored = await service.store.get_run(run.id, with_assets=False)
    stored.progress.phases_completed = 0
    stored.phases[0].status = "running"
    async with service.store.database.engine.begin() as conn:
        await conn.execute(
            update(run_assets).where(run_assets.c.run_id == run.id, run_assets.c.asset_id == canary).values(status="running")
        )
        await conn.execute(update(runs).where(runs.c.id == run.id).values(progress=stored.progress.to_document()))
        await conn.execute(update(work_items).where(work_items.c.subject == run.id).values(due_at=stored.created_at))
    await service.store.save_run_progress(stored)
    service.executor.wake()
    for _ in range(500):
        if len([a for a in driver.calls if a.subject == canary]) == 2:
            break
        await asyncio.sleep(0.01)
    again = [a for a in driver.calls if a.subject == canary][1]
    assert (again.key, again.attempt) == (first.key, 2), "the repeat carries the same key and the next attempt"
    assert again.from_version == first.from_version, "the previous state recorded before the first attempt is kept"
    rows = {r.asset_id: r for r in await service.store.run_assets.rows(run.id, phase_index=0)}
    assert rows[canary].previous == before.by_id()[canary].image_version and rows[canary].attempt == 2
    await service.control_run(run.id, "U0APPROVER1", "abort")
    after = await service.inventory.fleet()
    assert after.by_id()[canary].image_version == before.by_id()[canary].image_version, "the rollback restores it"


def test_missing_measurements_fail_the_phase() -> None:
    phase = Phase(
        name="Canary",
        assets=["a"],
        health_checks=[HealthCheck(type="error_rate", threshold="< 1%")],
        rollback_if="error_rate > 1%",
    )
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
    assert {p.name: p.confirmed_by for p in final.phases if p.confirmed_by} == dict.fromkeys(needs, "U0APPROVER2")


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
    _first_plan, first_run = await _approved(service)
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
