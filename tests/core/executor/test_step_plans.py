"""Plans made of steps (SOP, DR drill) run one step per phase after approval."""

from __future__ import annotations

from core.events import PhaseStarted, RunFinished
from core.intake import Ask
from core.service import OpsPilot


async def test_approved_sop_runs_its_steps_in_order(service: OpsPilot) -> None:
    started: list[str] = []
    finished: list[RunFinished] = []

    async def on_start(event: PhaseStarted) -> None:
        started.append(event.name)

    async def on_finish(event: RunFinished) -> None:
        finished.append(event)

    service.bus.subscribe(on_start, PhaseStarted)
    service.bus.subscribe(on_finish, RunFinished)
    outcome = await service.submit(Ask.from_front("write an SOP for rotating TLS certificates", "U0REQUESTER"))
    assert outcome.plan is not None and outcome.plan.payload.steps and not outcome.plan.payload.phases
    assert outcome.plan.state == "awaiting_approval", outcome.plan.validation
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    for _ in range(len(outcome.plan.payload.steps) + 1):
        await service.executor.wait_idle(20)
        run = await service.store.get_run(decision.run.id)
        if run.state != "paused":
            break
        await service.control_run(run.id, "U0APPROVER2", "resume")  # a destructive step waits for a person
    assert run.state == "completed"
    forward = [s.name for s in outcome.plan.payload.steps if s.when != "on_failure"]
    assert started == forward, "rollback-only steps do not run when nothing failed"
    assert any(s.when == "on_failure" for s in outcome.plan.payload.steps)
    assert finished[-1].state == "completed"
    assert all(p.health and p.health["step"].startswith("simulated") for p in run.phases)
