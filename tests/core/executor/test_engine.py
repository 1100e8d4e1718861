"""The engine at fleet scale: assets in flight at once, a failure budget per phase, step plans as a DAG."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import yaml

from core.config import Config
from core.domain import Plan, PlanPayload, Task, TaskSpec
from core.errors import DriverError
from core.executor.drivers import DriverAction, DriverResult
from core.executor.drivers.simulate import SimulateDriver
from core.intake import Ask
from core.service import OpsPilot

ASK = "fix drift on staging web servers"


def _fleet(tmp_path: Path, count: int = 20) -> Path:
    assets = [
        {
            "id": f"web-stg-{i:03d}",
            "environment": "staging",
            "role": "web-server",
            "platform": "aws",
            "region": "us-east-1",
            "image": "ubuntu-base",
            "image_version": "2.3.9",
            "address": f"10.0.0.{i}",
            "tags": ["web", f"rack-{i % 3}"],
            "service": "checkout",
        }
        for i in range(1, count + 1)
    ]
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"golden_images": {"ubuntu-base": "2.4.1"}, "assets": assets}))
    return path


class ProbingDriver(SimulateDriver):
    """The simulate driver with latency, failures by asset, and a record of concurrency and calls."""

    def __init__(self, inventory, *, latency: float = 0.0, failing: set[str] | None = None) -> None:
        super().__init__(inventory)
        self.latency = latency
        self.failing = failing or set()
        self.in_flight = 0
        self.peak = 0
        self.calls: list[DriverAction] = []

    async def perform(self, action: DriverAction) -> DriverResult:
        self.calls.append(action)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            if action.action == "apply" and action.subject in self.failing:
                raise DriverError(f"remediate {action.subject}: exit 3", output="disk full\n")
            return await super().perform(action)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def fleet_service(config: Config, tmp_path: Path):
    config.inventory.path = _fleet(tmp_path)
    services: list[OpsPilot] = []

    async def make(**executor) -> OpsPilot:
        for key, value in executor.items():
            setattr(config.executor, key, value)
        service = await OpsPilot.create(config)
        await service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        await service.close()


async def _run(service: OpsPilot, driver: ProbingDriver, before_approval=None):
    service.executor.driver = driver
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval", outcome.plan and outcome.plan.validation
    if before_approval is not None:
        before_approval(outcome.plan)
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(30)
    return outcome.plan, await service.store.get_run(decision.run.id)


async def test_assets_of_a_phase_run_concurrently_up_to_the_limit(fleet_service) -> None:
    service = await fleet_service(concurrency=3)
    driver = ProbingDriver(service.inventory, latency=0.02)
    plan, run = await _run(service, driver)
    assert run.state == "completed"
    assert driver.peak == 3, "three assets in flight at once, never more"
    assert max(len(p.assets) for p in plan.payload.phases) > 3
    rows = await service.store.run_assets.rows(run.id)
    assert len(rows) == 20 and {r.status for r in rows} == {"succeeded"}
    assert all(r.idempotency_key and r.attempt == 1 and r.previous == "2.3.9" and r.current == "2.4.1" for r in rows)


async def test_drivers_get_what_the_fleet_says_about_an_asset(fleet_service) -> None:
    service = await fleet_service()
    driver = ProbingDriver(service.inventory)
    await _run(service, driver)
    action = next(a for a in driver.calls if a.subject == "web-stg-007")
    assert action.asset.address == "10.0.0.7" and action.asset.tags == ("web", "rack-1") and action.asset.service == "checkout"
    assert (action.from_version, action.to_version, action.phase_index) == ("2.3.9", "2.4.1", action.phase_index)


async def test_failures_within_the_budget_let_the_phase_pass(fleet_service) -> None:
    service = await fleet_service(max_failures=1)
    _plan, run = await _run(service, ProbingDriver(service.inventory, failing={"web-stg-010"}))
    assert run.state == "completed"
    assert run.metrics.assets_failed == 1 and run.metrics.assets_changed == 19
    row = next(r for r in await service.store.run_assets.rows(run.id) if r.asset_id == "web-stg-010")
    assert row.status == "failed" and "exit 3" in row.error and "disk full" in row.output


async def test_one_failure_over_the_budget_rolls_the_whole_run_back(fleet_service) -> None:
    service = await fleet_service(max_failures=0)
    before = await service.inventory.fleet()
    plan, run = await _run(service, ProbingDriver(service.inventory, failing={"web-stg-010"}))
    assert run.state == "rolled_back"
    assert "web-stg-010: remediate web-stg-010: exit 3" in run.status.reason
    after = await service.inventory.fleet()
    assert all(after.by_id()[a].image_version == before.by_id()[a].image_version for a in plan.payload.affected_assets)
    statuses = {r.asset_id: r.status for r in await service.store.run_assets.rows(run.id)}
    assert statuses["web-stg-010"] == "failed"
    assert {s for a, s in statuses.items() if a != "web-stg-010"} <= {"rolled_back", "pending"}


@pytest.mark.parametrize(("failures", "expected"), [(3, "completed"), (4, "rolled_back")])
async def test_a_percentage_budget_counts_against_each_phases_size(fleet_service, failures: int, expected: str) -> None:
    service = await fleet_service(max_failures="50%")
    driver = ProbingDriver(service.inventory)

    def fail_in_first_wave(plan) -> None:
        wave = plan.payload.phases[1]
        assert len(wave.assets) == 6, "20 staging assets: a canary of 2, then waves of 6"
        driver.failing = set(wave.assets[:failures])

    _, run = await _run(service, driver, fail_in_first_wave)
    assert run.state == expected, "50% of a wave of 6 tolerates 3 failures, not 4"


async def test_rollback_reverts_newest_phase_first(fleet_service) -> None:
    service = await fleet_service()
    await _run(service, ProbingDriver(service.inventory, failing={plan_asset := "web-stg-020"}))
    driver = service.executor.driver
    reverts = [a.phase_index for a in driver.calls if a.action == "revert"]
    assert reverts == sorted(reverts, reverse=True) and reverts, "current phase first, then completed phases newest first"
    assert plan_asset not in [a.subject for a in driver.calls if a.action == "revert"], "a failed apply changed nothing"


# -- step plans as a DAG ----------------------------------------------------------------------

SPEC = TaskSpec.model_validate(
    {
        "task_type": "sop_authoring",
        "goal": "Run a drill",
        "context": {"environment": "staging"},
        "agents": [{"name": "sop_agent", "priority": 1}],
        "tools_required": ["query_assets"],
        "risk_level": "low",
        "hitl_required": True,
    }
)


class StepDriver(SimulateDriver):
    def __init__(self, inventory, *, fail_times: dict[str, int] | None = None, hang: set[str] | None = None) -> None:
        super().__init__(inventory)
        self.fail_times = dict(fail_times or {})
        self.hang = hang or set()
        self.log: list[tuple[str, str, int, str]] = []  # (event, step, attempt, key)

    async def perform(self, action: DriverAction) -> DriverResult:
        name = action.subject
        self.log.append(("start", name, action.attempt, action.key))
        if name in self.hang:
            await asyncio.sleep(3600)
        await asyncio.sleep(0.05)
        if self.fail_times.get(name, 0) > 0:
            self.fail_times[name] -= 1
            self.log.append(("fail", name, action.attempt, action.key))
            raise DriverError(f"{name} failed")
        self.log.append(("end", name, action.attempt, action.key))
        return DriverResult(output=f"ran {name}")


async def _step_run(service: OpsPilot, steps: list[dict]):
    task = Task(id=str(uuid.uuid4()), org_id="org", created_by="U0REQUESTER", user_intent="drill", task_spec=SPEC, origin={})
    await service.store.add_task(task, "U0REQUESTER")
    plan = Plan(
        id=str(uuid.uuid4()),
        task_id=task.id,
        type="sop",
        agent="sop_agent",
        environment="staging",
        payload=PlanPayload(summary="drill", steps=steps),
    )
    await service.store.add_plan(plan, "opspilot")
    service.executor.pre_start_check = None
    run = await service.executor.start(plan, "U0APPROVER1")
    await service.executor.wait_idle(30)
    return await service.store.get_run(run.id)


async def test_independent_steps_run_side_by_side_and_dependents_wait(fleet_service) -> None:
    service = await fleet_service()
    driver = StepDriver(service.inventory)
    service.executor.driver = driver
    run = await _step_run(
        service,
        [
            {"name": "snapshot-a", "command": "snap a"},
            {"name": "snapshot-b", "command": "snap b"},
            {"name": "failover", "command": "fail over", "depends_on": ["snapshot-a", "snapshot-b"]},
        ],
    )
    assert run.state == "completed"
    order = [(e, n) for e, n, _, _ in driver.log]
    assert order.index(("start", "snapshot-b")) < order.index(("end", "snapshot-a")), "a and b overlap"
    assert order.index(("start", "failover")) > max(order.index(("end", "snapshot-a")), order.index(("end", "snapshot-b")))
    assert [p.name for p in run.phases] == ["snapshot-a + snapshot-b", "failover"]


async def test_a_step_is_retried_with_backoff_under_the_same_key(fleet_service) -> None:
    service = await fleet_service()
    driver = StepDriver(service.inventory, fail_times={"flaky": 2})
    service.executor.driver = driver
    run = await _step_run(service, [{"name": "flaky", "command": "x", "retries": 2}, {"name": "after", "depends_on": ["flaky"]}])
    assert run.state == "completed"
    tries = [(attempt, key) for event, name, attempt, key in driver.log if name == "flaky" and event == "start"]
    assert [a for a, _ in tries] == [1, 2, 3] and len({k for _, k in tries}) == 1
    row = next(r for r in await service.store.run_assets.rows(run.id) if r.asset_id == "flaky")
    assert row.status == "succeeded" and row.attempt == 3


async def test_a_step_out_of_retries_rolls_back_and_runs_on_failure_steps(fleet_service) -> None:
    service = await fleet_service()
    driver = StepDriver(service.inventory, fail_times={"migrate": 5})
    service.executor.driver = driver
    run = await _step_run(
        service,
        [
            {"name": "migrate", "command": "m", "retries": 1},
            {"name": "never", "depends_on": ["migrate"]},
            {"name": "restore", "command": "r", "when": "on_failure"},
        ],
    )
    assert run.state == "rolled_back" and "migrate failed" in run.status.reason
    names = [n for e, n, _, _ in driver.log if e == "start"]
    assert names == ["migrate", "migrate", "restore"]


async def test_a_hung_step_is_cut_off_at_its_timeout(fleet_service) -> None:
    service = await fleet_service()
    service.executor.driver = StepDriver(service.inventory, hang={"stuck"})
    from core.executor import phase

    original = phase.MIN_TIMEOUT_SECONDS
    phase.MIN_TIMEOUT_SECONDS = 0.2
    try:
        service.executor.wait_scale = 0.0
        run = await _step_run(service, [{"name": "stuck", "command": "sleep", "timeout": "1s"}])
    finally:
        phase.MIN_TIMEOUT_SECONDS = original
    assert run.state == "rolled_back" and "timed out" in run.status.reason


async def test_a_dependency_cycle_is_refused_before_anything_runs(fleet_service) -> None:
    service = await fleet_service()
    with pytest.raises(Exception, match="cycle"):
        await _step_run(service, [{"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}])


class PhaseAtOnceDriver(SimulateDriver):
    """Acts on a whole phase in one call, the way a playbook run with --limit does."""

    acts_on_many = True

    def __init__(self, inventory, failing: set[str] | None = None) -> None:
        super().__init__(inventory)
        self.batches: list[tuple[str, list[str]]] = []
        self.failing = failing or set()

    async def perform_many(self, actions: list[DriverAction]) -> list[DriverResult | DriverError]:
        self.batches.append((actions[0].action, [a.subject for a in actions]))
        results: list[DriverResult | DriverError] = []
        for action in actions:
            if action.action == "apply" and action.subject in self.failing:
                results.append(DriverError(f"{action.subject}: task 'render config' failed"))
            else:
                results.append(await super().perform(action))
        return results


async def test_a_driver_that_acts_on_many_gets_each_phase_in_one_call(fleet_service) -> None:
    service = await fleet_service(concurrency=2)
    driver = PhaseAtOnceDriver(service.inventory)
    plan, run = await _run(service, driver)
    assert run.state == "completed"
    assert driver.batches == [("apply", list(p.assets)) for p in plan.payload.phases]


async def test_a_driver_that_acts_on_many_rolls_back_phase_by_phase_newest_first(fleet_service) -> None:
    service = await fleet_service()
    driver = PhaseAtOnceDriver(service.inventory)

    def fail_in_second_wave(plan) -> None:
        driver.failing = {plan.payload.phases[2].assets[0]}

    plan, run = await _run(service, driver, fail_in_second_wave)
    assert run.state == "rolled_back" and "task 'render config' failed" in run.status.reason
    reverts = [assets for action, assets in driver.batches if action == "revert"]
    phases = plan.payload.phases
    assert reverts == [[a for a in phases[2].assets if a not in driver.failing], list(phases[1].assets), list(phases[0].assets)]
