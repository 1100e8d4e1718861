"""The executor: one scheduled job per phase.

Approval creates a queued Run and schedules phase 0 now. Each phase job applies the changes of its
assets through the driver, measures health, and either rolls the whole run back (a health check
failed, ``rollback_if`` holds, or anything broke) or schedules the next phase after the phase's
``wait_time`` (multiplied by ``executor.wait_scale``).

What keeps it trustworthy:
- progress is saved after every asset and the due time of the next phase is stored, so a restart
  resumes where the run was, waits out the rest of a soak, and never re-applies a finished asset;
- a job only runs the phase the stored progress expects, so a stale or duplicate job does nothing;
- a rollback tries every changed asset even when some reverts fail, and says which ones did;
- a step that needs confirmation pauses the run until an approver resumes it;
- resuming re-validates the plan, as starting does;
- a per-run lock lets pause and abort wait for the phase in flight instead of racing it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.approvals import SYSTEM_ACTOR
from core.domain import Change, Phase, Plan, Run, Step
from core.domain.run import AssetResult, PhaseResult, RunProgress
from core.errors import ExecutionError, IllegalTransition, ValidationFailed
from core.events import EventBus, PhaseCompleted, PhaseStarted, RunFinished, RunPaused, RunResumed, RunStarted
from core.executor.conditions import METRICS, parse_condition, threshold_holds
from core.executor.drivers import AppliedChange, Driver
from core.executor.health import HealthProbe
from core.store import Store
from core.timeutil import parse_duration, utcnow

logger = logging.getLogger(__name__)

PreStartCheck = Callable[[Plan], Awaitable[list[str]]]

MIN_TIMEOUT_SECONDS = 30.0       # a scaled timeout never drops below this (wait_scale may be 0)
DEFAULT_PROBE_TIMEOUT = "5m"
DEFAULT_STEP_TIMEOUT = "15m"
APPLY_TIMEOUT_SECONDS = 600.0    # one asset change; drivers that need longer report progress themselves
THRESHOLD_CHECKS = ("error_rate", "latency_p99", "cpu")


def execution_phases(plan: Plan) -> list[Phase]:
    """The phases to run: the plan's own, or one per step for step-only plans (SOP, DR drill, adapter)."""
    if plan.payload.phases:
        return plan.payload.phases
    return [Phase(name=step.name, assets=[]) for step in forward_steps(plan)]


def forward_steps(plan: Plan) -> list[Step]:
    """Steps run in order; ``on_failure`` steps run only while rolling back."""
    return [s for s in plan.payload.steps if s.when != "on_failure"]


def _step_of(plan: Plan, index: int) -> Step | None:
    if plan.payload.phases:
        return None
    steps = forward_steps(plan)
    return steps[index] if index < len(steps) else None


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
        self._locks: dict[str, asyncio.Lock] = {}
        self._in_flight: set[asyncio.Task] = set()
        self._closing = False

    # -- scheduling --------------------------------------------------------------------------

    async def start(self, plan: Plan, actor: str) -> Run:
        """Create a queued run for an approved plan and schedule its first phase now."""
        phases = execution_phases(plan)
        run = Run(
            id=str(uuid.uuid4()), plan_id=plan.id, environment=plan.environment or "all",
            progress=RunProgress(total_phases=len(phases)),
            phases=[PhaseResult(name=p.name, assets=[AssetResult(asset_id=a) for a in p.assets]) for p in phases],
        )
        await self.store.add_run(run, actor)
        self._schedule(run.id, 0, 0.0)
        return run

    async def resume_unfinished(self) -> int:
        """After a restart: schedule the due phase of every queued or executing run, keeping its wait."""
        runs = await self.store.runs_in_states(["queued", "executing"])
        now = utcnow()
        for run in runs:
            due = run.progress.next_phase_at
            delay = max(0.0, (due - now).total_seconds()) if due else 0.0
            self._schedule(run.id, run.progress.phases_completed, delay)
        return len(runs)

    async def close(self, timeout: float = 10.0) -> None:
        """Let phases in flight finish (up to ``timeout``), schedule nothing more, release the probe.
        Unfinished runs keep their stored progress and resume at the next start."""
        self._closing = True
        if self._in_flight:
            _, cut = await asyncio.wait(set(self._in_flight), timeout=timeout)
            for task in cut:
                logger.warning("a phase was still running at shutdown; it resumes at the next start")
                task.cancel()
            if cut:
                await asyncio.wait(cut, timeout=timeout)
        await self.probe.close()

    def _schedule(self, run_id: str, index: int, delay_seconds: float) -> None:
        if self._closing:
            return
        self._active.add(run_id)
        self._idle.clear()
        self.scheduler.add_job(
            self._phase_job, "date", run_date=utcnow() + timedelta(seconds=delay_seconds), args=[run_id, index],
            id=f"{run_id}:{index}", replace_existing=True, misfire_grace_time=None,
        )

    async def _schedule_next(self, run: Run, index: int, delay_seconds: float) -> None:
        run.progress.next_phase_at = utcnow() + timedelta(seconds=delay_seconds)
        await self.store.save_run_progress(run)
        self._schedule(run.id, index, delay_seconds)

    def _unschedule(self, run_id: str) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith(f"{run_id}:"):
                job.remove()

    def _finish(self, run_id: str) -> None:
        self._active.discard(run_id)
        if not self._active:
            self._idle.set()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until no run has a phase in flight or scheduled (for the CLI and tests)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    def _scaled_timeout(self, duration: str) -> float:
        return max(parse_duration(duration) * self.wait_scale, MIN_TIMEOUT_SECONDS)

    def _lock(self, run_id: str) -> asyncio.Lock:
        return self._locks.setdefault(run_id, asyncio.Lock())

    # -- control by people -------------------------------------------------------------------

    async def pause(self, run_id: str, actor: str, reason: str | None = None) -> Run:
        """Stop after the phase in flight; nothing is reverted. Raises IllegalTransition unless executing."""
        async with self._lock(run_id):
            return await self._pause(run_id, actor, reason)

    async def _pause(self, run_id: str, actor: str, reason: str | None) -> Run:
        await self.store.transition("run", run_id, "paused", actor=actor, reason=reason, expect=("executing",))
        self._unschedule(run_id)
        self._finish(run_id)
        run = await self.store.get_run(run_id)
        plan = await self.store.get_plan(run.plan_id)
        await self.bus.publish(RunPaused(
            task_id=plan.task_id, plan_id=plan.id, run_id=run_id, actor=actor, reason=reason,
            phases_completed=run.progress.phases_completed, total_phases=run.progress.total_phases,
        ))
        return run

    async def resume(self, run_id: str, actor: str) -> Run:
        """Re-validate, then carry on with the next phase now.

        Raises IllegalTransition unless paused, ValidationFailed when the plan no longer passes.
        """
        async with self._lock(run_id):
            run = await self.store.get_run(run_id)
            if run.state != "paused":
                raise IllegalTransition("run", run_id, run.state, "executing")
            plan = await self.store.get_plan(run.plan_id)
            problems = await self.pre_start_check(plan) if self.pre_start_check else []
            if problems:
                raise ValidationFailed("the plan no longer passes validation", problems)
            index = run.progress.phases_completed
            step = _step_of(plan, index)
            if step is not None and step.requires_confirmation:
                run.phases[index].confirmed_by = actor
                await self.store.save_run_progress(run)
            await self.store.transition("run", run_id, "executing", actor=actor, expect=("paused",))
            await self._schedule_next(run, index, 0.0)
        await self.bus.publish(RunResumed(
            task_id=plan.task_id, plan_id=plan.id, run_id=run_id, actor=actor,
            phases_completed=index, total_phases=run.progress.total_phases,
        ))
        return await self.store.get_run(run_id)

    async def abort(self, run_id: str, actor: str) -> Run:
        """Stop and revert every asset the run changed. Raises IllegalTransition when the run has ended."""
        async with self._lock(run_id):
            try:
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
            finally:
                self._unschedule(run_id)
                self._finish(run_id)
        return await self.store.get_run(run_id)

    # -- one phase ---------------------------------------------------------------------------

    async def _phase_job(self, run_id: str, index: int) -> None:
        if self._closing:
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        continues = False
        try:
            async with self._lock(run_id):
                continues = await self._run_phase(run_id, index)
        except Exception as exc:  # the store itself failed: nothing better to do than record it
            logger.exception("run %s failed in phase %d", run_id, index)
            await self._fail(run_id, f"phase {index + 1} failed: {exc}")
        finally:
            if task is not None:
                self._in_flight.discard(task)
        if not continues:
            self._finish(run_id)

    async def _run_phase(self, run_id: str, index: int) -> bool:
        """Run one phase; returns True when the next phase has been scheduled."""
        run = await self.store.get_run(run_id)
        plan = await self.store.get_plan(run.plan_id)
        if index != run.progress.phases_completed:
            logger.info("run %s: job for phase %d is stale (progress at %d); ignored", run_id, index, run.progress.phases_completed)
            return False
        if run.state == "queued":
            if not await self._begin(run, plan):
                return False
            run = await self.store.get_run(run_id)
        if run.state != "executing":
            logger.info("run %s is %s; phase %d not started", run_id, run.state, index)
            return False
        if index >= len(execution_phases(plan)):
            await self._complete(run, plan)  # every phase was done before a restart
            return False
        try:
            return await self._execute_phase(run, plan, index)
        except Exception as exc:
            # Whatever broke, put back what this run changed before giving up.
            logger.exception("run %s broke in phase %d; rolling back", run_id, index)
            await self._roll_back(run, plan, f"phase {index + 1} broke: {exc}")
            return False

    async def _execute_phase(self, run: Run, plan: Plan, index: int) -> bool:
        phases = execution_phases(plan)
        phase, total = phases[index], len(phases)
        result = run.phases[index]
        step = _step_of(plan, index)
        if step is not None and step.requires_confirmation and not result.confirmed_by:
            what = f" (`{step.command}`)" if step.command else ""
            await self._pause(run.id, SYSTEM_ACTOR, f"step {step.name}{what} needs a person to confirm it")
            return False

        result.status, result.started_at = "running", utcnow()
        run.progress.current_phase = index
        await self.store.save_run_progress(run)
        await self.bus.publish(PhaseStarted(
            task_id=plan.task_id, plan_id=plan.id, run_id=run.id, index=index, name=phase.name,
            total_phases=total, assets=tuple(phase.assets),
        ))

        if step is not None:
            try:
                outcome = await asyncio.wait_for(
                    self.driver.run_step(step, run.id), self._scaled_timeout(step.timeout or DEFAULT_STEP_TIMEOUT)
                )
            except (ExecutionError, TimeoutError) as exc:
                await self._roll_back(run, plan, f"step {step.name}: {exc or 'timed out'}")
                return False
            result.health = {"step": outcome}

        changes = {c.asset_id: c for c in plan.payload.changes}
        for asset_result in result.assets:
            if asset_result.status == "completed":
                continue  # applied before a restart; re-applying would lose its previous version
            asset_result.status = "running"
            change = changes.get(asset_result.asset_id) or Change(asset_id=asset_result.asset_id, action="noop")
            try:
                applied = await asyncio.wait_for(self.driver.apply(change, run.id), APPLY_TIMEOUT_SECONDS)
            except (ExecutionError, TimeoutError) as exc:
                asset_result.status, asset_result.error = "failed", str(exc) or "timed out"
                run.metrics.assets_failed += 1
                await self._roll_back(run, plan, f"{asset_result.asset_id}: {asset_result.error}")
                return False
            asset_result.status, asset_result.previous, asset_result.current = "completed", applied.previous, applied.current
            run.metrics.assets_changed += 1
            # Saved per asset: after a crash, the store knows exactly what to revert.
            await self.store.save_run_progress(run)

        metrics: dict[str, float] = {}
        if result.assets:
            try:
                metrics = await self._measure(phase, [a.asset_id for a in result.assets])
            except ExecutionError as exc:
                await self._roll_back(run, plan, f"{phase.name}: {exc}")
                return False
        result.health = {**(result.health or {}), **metrics}
        run.metrics.error_rate = max(run.metrics.error_rate, metrics.get("error_rate", 0.0))
        problem = health_problem(phase, metrics) if result.assets else None
        if problem:
            await self._roll_back(run, plan, f"{phase.name}: {problem}")
            return False

        result.status, result.completed_at = "completed", utcnow()
        run.progress.phases_completed = index + 1
        last = index == total - 1
        wait = None if last else (parse_duration(phase.wait_time) * self.wait_scale if phase.wait_time else 0.0)
        if last:
            await self.store.save_run_progress(run)
        else:
            await self._schedule_next(run, index + 1, wait or 0.0)
        await self.bus.publish(PhaseCompleted(
            task_id=plan.task_id, plan_id=plan.id, run_id=run.id, index=index, name=phase.name, total_phases=total,
            assets_changed=len(result.assets), health=metrics, next_wait_seconds=wait,
        ))
        if last:
            await self._complete(run, plan)
            return False
        return True

    async def _begin(self, run: Run, plan: Plan) -> bool:
        problems = await self.pre_start_check(plan) if self.pre_start_check else []
        if problems:
            reason = ("re-validation before start failed: " + "; ".join(problems))[:2000]
            await self.store.transition("run", run.id, "failed", actor=SYSTEM_ACTOR, reason=reason, details={"errors": problems})
            await self._publish_finished(run, plan, "failed", reason)
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
        longest = max((c.timeout for c in phase.health_checks if c.timeout), key=parse_duration, default=DEFAULT_PROBE_TIMEOUT)
        limit = self._scaled_timeout(longest)
        try:
            return await asyncio.wait_for(self.probe.measure(phase, assets), timeout=limit)
        except TimeoutError as exc:
            raise ExecutionError(f"the health probe did not answer within {limit:.0f}s") from exc

    # -- endings -----------------------------------------------------------------------------

    async def _roll_back(self, run: Run, plan: Plan, reason: str, actor: str = SYSTEM_ACTOR) -> None:
        """Revert every asset the run changed, newest first; ends rolled_back, or failed if a revert failed."""
        changes = {c.asset_id: c for c in plan.payload.changes}
        reverted, stuck = 0, []
        for phase_result in reversed(run.phases):
            touched = False
            for asset in reversed(phase_result.assets):
                if asset.status != "completed":
                    continue
                touched = True
                change = changes.get(asset.asset_id) or Change(asset_id=asset.asset_id, action="noop")
                try:
                    await asyncio.wait_for(
                        self.driver.revert(change, AppliedChange(asset.asset_id, asset.previous, asset.current), run.id),
                        APPLY_TIMEOUT_SECONDS,
                    )
                except Exception as exc:
                    logger.exception("could not revert %s in run %s", asset.asset_id, run.id)
                    asset.error = f"revert failed: {exc or 'timed out'}"
                    stuck.append(asset.asset_id)
                    continue
                asset.status = "rolled_back"
                reverted += 1
            if touched or phase_result.status == "running":
                phase_result.status = "rolled_back"
        if not plan.payload.phases:
            for step in (s for s in plan.payload.steps if s.when == "on_failure"):
                try:
                    await asyncio.wait_for(self.driver.run_step(step, run.id), self._scaled_timeout(step.timeout or DEFAULT_STEP_TIMEOUT))
                except Exception as exc:
                    logger.exception("rollback step %s of run %s failed", step.name, run.id)
                    stuck.append(f"step {step.name} ({exc or 'timed out'})")
        run.completed_at = utcnow()
        run.metrics.duration_seconds = _elapsed(run)
        await self.store.save_run_progress(run)
        if stuck:
            reason = f"{reason}; could not revert {', '.join(stuck)}: check them by hand"
            await self.store.transition(
                "run", run.id, "failed", actor=actor, reason=reason, details={"assets_reverted": reverted, "not_reverted": stuck}
            )
            await self._publish_finished(run, plan, "failed", reason, reverted)
            return
        await self.store.transition(
            "run", run.id, "rolled_back", actor=actor, reason=reason, details={"assets_reverted": reverted}
        )
        await self._publish_finished(run, plan, "rolled_back", reason, reverted)

    async def _complete(self, run: Run, plan: Plan) -> None:
        run.completed_at = utcnow()
        run.metrics.duration_seconds = _elapsed(run)
        run.progress.next_phase_at = None
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
        except Exception:
            logger.exception("could not record the failure of run %s", run_id)
            return
        await self._publish_finished(run, plan, "failed", reason)

    async def _publish_finished(self, run: Run, plan: Plan, state: str, reason: str | None, reverted: int = 0) -> None:
        await self.bus.publish(RunFinished(
            task_id=plan.task_id, plan_id=plan.id, run_id=run.id, state=state, reason=reason,
            assets_changed=run.metrics.assets_changed, assets_rolled_back=reverted,
            phases_completed=run.progress.phases_completed, total_phases=len(execution_phases(plan)),
            duration_seconds=_elapsed(run),
        ))


def health_problem(phase: Phase, metrics: dict[str, float]) -> str | None:
    """What is wrong with the measured health of a phase, or None. Missing measurements fail: a check
    that cannot be evaluated never passes."""
    failed = []
    for check in phase.health_checks:
        if check.type == "prometheus":
            continue  # evaluated by the probe itself, which raises when it fails
        if check.type == "http_200":
            if "http_ok" not in metrics:
                failed.append(f"http_200 on {check.target or '/'} was not measured")
            elif metrics["http_ok"] < 100.0:
                failed.append(f"http_200 on {check.target or '/'} failed for {100 - metrics['http_ok']:g}% of assets")
        elif check.type in THRESHOLD_CHECKS:
            if check.type not in metrics:
                failed.append(f"{check.type} was not measured")
            elif not check.threshold:
                failed.append(f"{check.type} check has no threshold")
            elif not threshold_holds(check.type, check.threshold, metrics):
                failed.append(f"{check.type} {metrics[check.type]:g}{METRICS[check.type]} breaks {check.threshold}")
        else:
            failed.append(f"{check.type} checks cannot be evaluated by this probe")
    if phase.rollback_if:
        condition = parse_condition(phase.rollback_if)
        missing = sorted({c.metric for group in condition.any_of for c in group} - set(metrics))
        if missing:
            failed.insert(0, f"rollback_if needs {', '.join(missing)}, which was not measured")
        elif condition.holds(metrics):
            failed.insert(0, f"rollback_if {condition.explain(metrics)}")
    return "; ".join(failed) or None


def _elapsed(run: Run) -> float:
    if run.started_at is None:
        return 0.0
    return round(((run.completed_at or utcnow()) - run.started_at).total_seconds(), 3)
