"""The engine with a driver that acts on a whole phase at once (the ansible driver's shape): a DriftChanged pauses
the run with nothing applied, Resume goes on, an abort cancels the call in flight, and the thread gets per-host
outcome counts."""

from __future__ import annotations

import asyncio

from core.errors import DriftChanged, DriverError
from core.events import PhaseCompleted
from core.executor.drivers import DriverAction, DriverResult
from core.executor.drivers.simulate import SimulateDriver
from core.intake import Ask
from core.service import OpsPilot

ASK = "fix drift on staging web servers"


class ManyDriver(SimulateDriver):
    """Acts on many assets per call; raises DriftChanged once when told, or blocks until cancelled."""

    acts_on_many = True

    def __init__(self, inventory, *, drift: bool = False, block: bool = False, failing: tuple[str, ...] = ()) -> None:
        super().__init__(inventory)
        self.drift, self.block, self.failing = drift, block, set(failing)
        self.calls: list[list[DriverAction]] = []
        self.cancelled = asyncio.Event()
        self.started = asyncio.Event()

    async def perform_many(self, actions: list[DriverAction]) -> list[DriverResult | DriverError]:
        self.calls.append(actions)
        if actions[0].action == "apply" and self.drift and actions[0].attempt == 1:
            self.drift = False  # only the canary's hosts moved
            raise DriftChanged(f"{actions[0].subject} would now change other things")
        if actions[0].action == "apply" and self.block:
            self.started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        results: list[DriverResult | DriverError] = []
        for action in actions:
            if action.subject in self.failing:
                results.append(DriverError("failed: task 'Render': boom"))
            else:
                await super().perform(action)
                results.append(DriverResult(current=action.to_version, output="changed: Render"))
        return results


async def _approve(service: OpsPilot):
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER"))
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    return outcome.plan, decision.run


async def _state(service: OpsPilot, run_id: str, wanted: str, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if (await service.store.get_run(run_id, with_assets=False)).state == wanted:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never reached {wanted}")


async def test_drift_changed_pauses_the_run_with_nothing_applied_and_resume_goes_on(service: OpsPilot) -> None:
    driver = ManyDriver(service.inventory, drift=True)
    service.executor.driver = driver
    service.executor.wait_scale = 0
    plan, run = await _approve(service)

    await _state(service, run.id, "paused")

    paused = await service.store.get_run(run.id, with_assets=False)
    assert "would now change other things" in (paused.status.reason or "")
    counts = await service.store.run_assets.counts(run.id)
    assert "running" not in counts and "succeeded" not in counts  # nothing applied, nothing to revert
    assert len(driver.calls) == 1 and {a.subject for a in driver.calls[0]} == set(plan.payload.phases[0].assets)

    await service.executor.resume(run.id, "U0APPROVER1")
    await _state(service, run.id, "completed")
    assert driver.calls[1][0].attempt == 2  # the repeat is told so (the ansible driver then skips its re-check)


async def test_an_abort_during_a_wave_cancels_the_driver_call_and_reverts_the_wave(service: OpsPilot) -> None:
    driver = ManyDriver(service.inventory, block=True)
    service.executor.driver = driver
    service.executor.settings.poll_interval = 0.05
    plan, run = await _approve(service)
    await asyncio.wait_for(driver.started.wait(), 20)

    await service.executor.abort(run.id, "U0APPROVER1")

    await _state(service, run.id, "rolled_back")
    assert driver.cancelled.is_set()
    reverted = [a.subject for call in driver.calls for a in call if a.action == "revert"]
    assert sorted(reverted) == sorted(plan.payload.phases[0].assets)  # the wave's hosts count as changed


async def test_phase_completed_carries_host_outcomes_and_failed_hosts(service: OpsPilot) -> None:
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER"))
    wave = outcome.plan.payload.phases[1].assets
    driver = ManyDriver(service.inventory, failing=(wave[0],))
    service.executor.driver = driver
    service.executor.settings.max_failures = 1
    service.executor.wait_scale = 0
    seen: list[PhaseCompleted] = []

    async def keep(event: PhaseCompleted) -> None:
        seen.append(event)

    service.bus.subscribe(keep, PhaseCompleted)
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await _state(service, decision.run.id, "completed")

    second = next(e for e in seen if e.index == 1)
    assert second.outcomes == {"failed": 1} | ({"changed": len(wave) - 1} if len(wave) > 1 else {})
    first = next(e for e in seen if e.index == 0)
    assert first.outcomes == {"changed": len(outcome.plan.payload.phases[0].assets)} and first.failures == ()
    assert second.failures == (f"{wave[0]}: failed: task 'Render': boom",)
