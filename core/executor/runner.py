"""The executor: one scheduled job per phase.

Approval creates a queued Run and schedules phase 0 now. Each phase job applies the changes of its
assets through the driver, measures health, and either rolls the whole run back (a health check
failed or ``rollback_if`` holds) or schedules the next phase after the phase's ``wait_time``
(multiplied by ``executor.wait_scale``). Progress is saved after every phase, so a restart resumes
at the next phase instead of starting over.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.domain import Change, Phase, Plan, Run
from core.domain.run import AssetResult, PhaseResult, RunProgress
from core.errors import ExecutionError, IllegalTransition
from core.events import EventBus, PhaseCompleted, PhaseStarted, RunFinished, RunPaused, RunResumed, RunStarted
from core.executor.conditions import parse_condition, threshold_holds
from core.executor.drivers import AppliedChange, Driver
from core.executor.health import HealthProbe
from core.store import Store
from core.timeutil import parse_duration, utcnow

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "opspilot"
PreStartCheck = Callable[[Plan], Awaitable[list[str]]]


class Executor:
    def __init__(
        self,
        store: Store,
        driver: Driver,
        probe: HealthProbe,
        scheduler: AsyncIOScheduler,
        *,
        bus: EventBus | None = None,
        wait_scale: float = 1.0,
        pre_start_check: PreStartCheck | None = None,
    ) -> None:
        self.store = store
        self.driver = driver
        self.probe = probe
        self.scheduler = scheduler
        self.bus = bus or store.bus
        self.wait_scale = wait_scale
        self.pre_start_check = pre_start_check
        self._idle = asyncio.Event()
        self._idle.set()
        self._active: set[str] = set()
        # One phase job or control action per run at a time: pause and abort wait for the phase in flight.
        self._locks: dict[str, asyncio.Lock] = {}

    # -- scheduling --------------------------------------------------------------------------

    async def start(self, plan: Plan, actor: str) -> Run:
        """Create a queued run for an approved plan and schedule its first phase now."""
        run = Run(
            id=str(uuid.uuid4()), plan_id=plan.id, environment=plan.environment or "all",
            progress=RunProgress(total_phases=len(execution_phases(plan))),
            phases=[PhaseResult(name=p.name, assets=[AssetResult(asset_id=a) for a in p.assets]) for p in execution_phases(plan)],
        )
        await self.store.add_run(run, actor)
        self._schedule(run.id, 0, 0.0)
        return run

    async def resume_unfinished(self) -> int:
        """After a restart: schedule the next phase of every run that was queued or executing."""
        runs = await self.store.runs_in_states(["queued", "executing"])
        for run in runs:
            self._schedule(run.id, run.progress.phases_completed, 0.0)
        return len(runs)

    def _schedule(self, run_id: str, index: int, delay_seconds: float) -> None:
        self._active.add(run_id)
        self._idle.clear()
        self.scheduler.add_job(
            self._phase_job, "date", run_date=utcnow() + timedelta(seconds=delay_seconds), args=[run_id, index],
            id=f"{run_id}:{index}", replace_existing=True, misfire_grace_time=None,
        )

    def _finish(self, run_id: str) -> None:
        self._active.discard(run_id)
        if not self._active:
            self._idle.set()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until no run is in flight (for the CLI and tests)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    def _scaled(self, duration: str | None) -> float:
        return parse_duration(duration) * self.wait_scale if duration else 0.0

    def _lock(self, run_id: str) -> asyncio.Lock:
        return self._locks.setdefault(run_id, asyncio.Lock())

    def _unschedule(self, run_id: str) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith(f"{run_id}:"):
                job.remove()

    # -- control by people -------------------------------------------------------------------

    async def pause(self, run_id: str, actor: str) -> Run:
        """Stop after the phase in flight; nothing is reverted. Raises IllegalTransition unless executing."""
        async with self._lock(run_id):
            await self.store.transition("run", run_id, "paused", actor=actor, expect=("executing",))
            self._unschedule(run_id)
            self._finish(run_id)
            run = await self.store.get_run(run_id)
            plan = await self.store.get_plan(run.plan_id)
        await self.bus.publish(RunPaused(task_id=plan.task_id, plan_id=plan.id, run_id=run_id, actor=actor,
                                         phases_completed=run.progress.phases_completed, total_phases=run.progress.total_phases))
        return run

    async def resume(self, run_id: str, actor: str) -> Run:
        """Carry on with the next phase now. Raises IllegalTransition unless paused."""
        async with self._lock(run_id):
            await self.store.transition("run", run_id, "executing", actor=actor, expect=("paused",))
            run = await self.store.get_run(run_id)
            plan = await self.store.get_plan(run.plan_id)
            self._schedule(run_id, run.progress.phases_completed, 0.0)
        await self.bus.publish(RunResumed(task_id=plan.task_id, plan_id=plan.id, run_id=run_id, actor=actor,
                                          phases_completed=run.progress.phases_completed, total_phases=run.progress.total_phases))
        return run

    async def abort(self, run_id: str, actor: str) -> Run:
        """Stop and revert every asset the run changed. Raises IllegalTransition when the run has ended."""
        async with self._lock(run_id):
            run = await self.store.get_run(run_id)
            plan = await self.store.get_plan(run.plan_id)
            reason = f"aborted by {actor}"
            if run.state == "queued":
                await self.store.transition("run", run_id, "failed", actor=actor, reason=reason, expect=("queued",))
                await self._publish_finished(run, plan, "failed", reason)
            elif run.state in ("executing", "paused"):
                await self._roll_back(run, plan, reason, actor=actor)
            else:
                raise IllegalTransition("run", run_id, run.state, "rolled_back")
            self._unschedule(run_id)
            self._finish(run_id)
        return await self.store.get_run(run_id)

    # -- one phase ---------------------------------------------------------------------------

    async def _phase_job(self, run_id: str, index: int) -> None:
        try:
            async with self._lock(run_id):
                done = await self._run_phase(run_id, index)
        except Exception as exc:
            logger.exception("run %s failed in phase %d", run_id, index)
            await self._fail(run_id, f"phase {index + 1} failed: {exc}")
            done = True
        if done:
            self._finish(run_id)

    async def _run_phase(self, run_id: str, index: int) -> bool:
        """Run one phase; returns True when the run has finished (any terminal state)."""
        run = await self.store.get_run(run_id)
        plan = await self.store.get_plan(run.plan_id)
        if run.state == "queued":
            if not await self._begin(run, plan):
                return True
            run = await self.store.get_run(run_id)
        if run.state != "executing":
            logger.info("run %s is %s; phase %d not started", run_id, run.state, index)
            return run.state != "paused"
        try:
            return await self._execute_phase(run, plan, index)
        except Exception as exc:
            # Whatever broke, put back what this run changed before giving up.
            logger.exception("run %s broke in phase %d; rolling back", run_id, index)
            reason = f"phase {index + 1} broke: {exc}"
            try:
                await self._roll_back(run, plan, reason)
            except Exception as rollback_exc:
                logger.exception("rollback of run %s failed", run_id)
                await self._fail(run_id, f"{reason}; the rollback failed too: {rollback_exc}")
            return True

    async def _execute_phase(self, run: Run, plan: Plan, index: int) -> bool:
        phase = execution_phases(plan)[index]
        total = len(execution_phases(plan))
        result = run.phases[index]
        result.status, result.started_at = "running", utcnow()
        run.progress.current_phase = index
        await self.store.save_run_progress(run)
        await self.bus.publish(PhaseStarted(
            task_id=plan.task_id, plan_id=plan.id, run_id=run.id, index=index, name=phase.name,
            total_phases=total, assets=tuple(phase.assets),
        ))

        if not plan.payload.phases and plan.payload.steps:
            step = _forward_steps(plan)[index]
            try:
                outcome = await self.driver.run_step(step, run.id)
            except ExecutionError as exc:
                await self._roll_back(run, plan, f"step {step.name}: {exc}")
                return True
            result.health = {"step": outcome}

        changes = {c.asset_id: c for c in plan.payload.changes}
        for asset_result in result.assets:
            asset_result.status = "running"
            change = changes.get(asset_result.asset_id) or Change(asset_id=asset_result.asset_id, action="noop")
            try:
                applied = await self.driver.apply(change, run.id)
            except ExecutionError as exc:
                asset_result.status, asset_result.error = "failed", str(exc)
                run.metrics.assets_failed += 1
                await self._roll_back(run, plan, f"{asset_result.asset_id}: {exc}")
                return True
            asset_result.status, asset_result.previous, asset_result.current = "completed", applied.previous, applied.current
            run.metrics.assets_changed += 1
            # Saved per asset: after a crash, the store knows exactly what to revert.
            await self.store.save_run_progress(run)

        metrics = await self._measure(phase, [a.asset_id for a in result.assets]) if result.assets else {}
        result.health = {**(result.health or {}), **metrics}
        run.metrics.error_rate = max(run.metrics.error_rate, metrics.get("error_rate", 0.0))
        problem = self._health_problem(phase, metrics)
        if problem:
            await self._roll_back(run, plan, f"{phase.name}: {problem}")
            return True

        result.status, result.completed_at = "completed", utcnow()
        run.progress.phases_completed = index + 1
        last = index == total - 1
        wait = None if last else self._scaled(phase.wait_time)
        await self.store.save_run_progress(run)
        await self.bus.publish(PhaseCompleted(
            task_id=plan.task_id, plan_id=plan.id, run_id=run.id, index=index, name=phase.name, total_phases=total,
            assets_changed=len(result.assets), health=metrics, next_wait_seconds=wait,
        ))
        if last:
            await self._complete(run, plan)
            return True
        self._schedule(run.id, index + 1, wait or 0.0)
        return False

    async def _begin(self, run: Run, plan: Plan) -> bool:
        problems = await self.pre_start_check(plan) if self.pre_start_check else []
        if problems:
            await self.store.transition(
                "run", run.id, "failed", actor=SYSTEM_ACTOR, reason="plan failed re-validation before start",
                details={"errors": problems},
            )
            await self._publish_finished(run, plan, "failed", "re-validation before start failed: " + "; ".join(problems))
            return False
        run.started_at = utcnow()
        await self.store.save_run_progress(run)
        await self.store.transition("run", run.id, "executing", actor=SYSTEM_ACTOR)
        await self.bus.publish(RunStarted(
            task_id=plan.task_id, plan_id=plan.id, run_id=run.id, total_phases=len(execution_phases(plan)),
            total_assets=len(plan.payload.affected_assets),
        ))
        return True

    async def _measure(self, phase: Phase, assets: list[str]) -> dict[str, float]:
        timeouts = [parse_duration(c.timeout) for c in phase.health_checks if c.timeout]
        limit = max(timeouts, default=300.0) * self.wait_scale if self.wait_scale else None
        try:
            return await asyncio.wait_for(self.probe.measure(phase, assets), timeout=max(limit, 5.0) if limit else None)
        except TimeoutError as exc:
            raise ExecutionError(f"health probe did not answer within {limit:.0f}s") from exc

    @staticmethod
    def _health_problem(phase: Phase, metrics: dict[str, float]) -> str | None:
        failed = []
        for check in phase.health_checks:
            if check.type == "http_200" and metrics.get("http_ok", 100.0) < 100.0:
                failed.append(f"http_200 on {check.target or '/'} failed for {100 - metrics['http_ok']:g}% of assets")
            elif check.threshold and check.type in ("error_rate", "latency_p99", "cpu"):
                if not threshold_holds(check.type, check.threshold, metrics):
                    failed.append(f"{check.type} {metrics.get(check.type, float('nan')):g} breaks {check.threshold}")
        if phase.rollback_if:
            condition = parse_condition(phase.rollback_if)
            if condition.holds(metrics):
                failed.insert(0, f"rollback_if {condition.explain(metrics)}")
        return "; ".join(failed) or None

    # -- endings -----------------------------------------------------------------------------

    async def _roll_back(self, run: Run, plan: Plan, reason: str, actor: str = SYSTEM_ACTOR) -> None:
        changes = {c.asset_id: c for c in plan.payload.changes}
        reverted = 0
        for phase_result in reversed(run.phases):
            touched = False
            for asset in reversed(phase_result.assets):
                if asset.status != "completed":
                    continue
                touched = True
                change = changes.get(asset.asset_id) or Change(asset_id=asset.asset_id, action="noop")
                await self.driver.revert(change, AppliedChange(asset.asset_id, asset.previous, asset.current), run.id)
                asset.status = "rolled_back"
                reverted += 1
            if touched or phase_result.status == "running":
                phase_result.status = "rolled_back"
        if not plan.payload.phases:
            for step in (s for s in plan.payload.steps if s.when == "on_failure"):
                try:
                    await self.driver.run_step(step, run.id)
                except ExecutionError as exc:
                    reason += f"; rollback step {step.name} failed too: {exc}"
        run.completed_at = utcnow()
        run.metrics.duration_seconds = _elapsed(run)
        await self.store.save_run_progress(run)
        await self.store.transition(
            "run", run.id, "rolled_back", actor=actor, reason=reason, details={"assets_reverted": reverted}
        )
        await self._publish_finished(run, plan, "rolled_back", reason, reverted)

    async def _complete(self, run: Run, plan: Plan) -> None:
        run.completed_at = utcnow()
        run.metrics.duration_seconds = _elapsed(run)
        await self.store.save_run_progress(run)
        await self.store.transition(
            "run", run.id, "completed", actor=SYSTEM_ACTOR,
            details={"assets_changed": run.metrics.assets_changed, "duration_seconds": run.metrics.duration_seconds},
        )
        await self._publish_finished(run, plan, "completed", None)

    async def _fail(self, run_id: str, reason: str) -> None:
        try:
            run = await self.store.get_run(run_id)
            plan = await self.store.get_plan(run.plan_id)
            await self.store.transition("run", run_id, "failed", actor=SYSTEM_ACTOR, reason=reason)
        except IllegalTransition:
            return
        await self._publish_finished(run, plan, "failed", reason)

    async def _publish_finished(self, run: Run, plan: Plan, state: str, reason: str | None, reverted: int = 0) -> None:
        await self.bus.publish(RunFinished(
            task_id=plan.task_id, plan_id=plan.id, run_id=run.id, state=state, reason=reason,
            assets_changed=run.metrics.assets_changed, assets_rolled_back=reverted,
            phases_completed=run.progress.phases_completed, total_phases=len(execution_phases(plan)),
            duration_seconds=_elapsed(run),
        ))


def execution_phases(plan: Plan) -> list[Phase]:
    """The phases to run: the plan's own, or one per step for step-only plans (SOP, DR drill, adapter)."""
    if plan.payload.phases:
        return plan.payload.phases
    return [Phase(name=step.name, assets=[]) for step in _forward_steps(plan)]


def _forward_steps(plan: Plan) -> list:
    return [s for s in plan.payload.steps if s.when != "on_failure"]


def _elapsed(run: Run) -> float:
    if run.started_at is None:
        return 0.0
    return round(((run.completed_at or utcnow()) - run.started_at).total_seconds(), 3)
