"""The executor: runs owned by leases, not by a process.

Approval creates a queued run, one ``run_assets`` row per asset (or step) and a due work item, in one transaction.
Workers (every replica runs one) claim due runs from the database, renew the lease while they work, and write
every state change through a fenced transaction, so a worker that lost its lease cannot write anything. Each claim
moves a run one phase forward: begin, execute the phase, judge its health, then store the due time of the next
phase and give the run back. A worker that dies loses the lease after ``executor.lease_seconds``; another worker
(another replica, or this one after a restart) takes the run over and resumes from the stored per-asset state.

The database is the source of truth for due times; APScheduler is only the alarm clock that wakes the worker when
the next soak ends, and a poll every ``executor.poll_interval`` is the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncConnection

from core.approvals import SYSTEM_ACTOR
from core.clock import SYSTEM_CLOCK, Clock
from core.domain import Phase, Plan, Run
from core.domain.run import PhaseResult, RunProgress
from core.domain.states import TERMINAL_RUN_STATES
from core.errors import ExecutionError, IllegalTransition, ValidationFailed
from core.events import AuditAppended, EventBus, PhaseCompleted, PhaseStarted, RunFinished, RunPaused, RunResumed, RunStarted
from core.executor.context import RUN_WORK, Engine, EngineSettings, Holding, PreStartCheck
from core.executor.crashpoints import crash_point
from core.executor.drivers import Driver
from core.executor.health import HealthCheckFailed, HealthInconclusive, HealthProbe
from core.executor.phase import MIN_TIMEOUT_SECONDS, PhaseExecution
from core.executor.plan_graph import execution_phases, forward_steps, layer_of, subjects
from core.executor.rollback import Rollback
from core.executor.verdict import Verdict, health_problem, judge
from core.inventory import Inventory
from core.inventory.fleet import Asset
from core.logcontext import add as add_log_ids
from core.store import Store
from core.timeutil import parse_duration
from core.work import Claim, WorkQueue, worker_id
from core.work.worker import LeasedWorker

logger = logging.getLogger(__name__)

__all__ = ["Executor", "execution_phases", "forward_steps", "health_problem"]

DEFAULT_PROBE_TIMEOUT = "5m"
ABORT_WAIT_SECONDS = 60.0  # how long an abort waits for the holder of the run to finish reverting
PHASE_FAILURE_LINES = 10  # failed assets named in a phase's completion message
_SEPARATOR = "\x1f"  # between the reason and the actor of a rollback request (PostgreSQL text holds no NUL)


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
        settings: EngineSettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
        owner: str | None = None,
        inventory: Inventory | None = None,
    ) -> None:
        settings = settings or EngineSettings()
        settings.wait_scale = wait_scale
        self.engine = Engine(
            store=store,
            work=WorkQueue(store.database, clock),
            driver=driver,
            probe=probe,
            bus=bus or store.bus,
            clock=clock,
            settings=settings,
            pre_start_check=pre_start_check,
        )
        self.scheduler = scheduler
        self.inventory = inventory
        # The plan's hash now (core.approvals.plan_hash, policies included); set by the service.
        self.plan_hasher: Callable[[Plan], str] | None = None
        self.owner = owner or worker_id()
        self.worker = LeasedWorker(
            self.engine.work,
            RUN_WORK,
            self.owner,
            self._drive,
            lease_seconds=lambda: self.engine.settings.lease_seconds,
            poll_interval=lambda: self.engine.settings.poll_interval,
            capacity=settings.max_parallel_runs,
            on_failure=self._fail_broken,
            scheduler=scheduler,
            log_key="run_id",
        )

    # The parts tests and the service swap or read.
    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def driver(self) -> Driver:
        return self.engine.driver

    @driver.setter
    def driver(self, driver: Driver) -> None:
        self.engine.driver = driver

    @property
    def probe(self) -> HealthProbe:
        return self.engine.probe

    @probe.setter
    def probe(self, probe: HealthProbe) -> None:
        self.engine.probe = probe

    @property
    def pre_start_check(self) -> PreStartCheck | None:
        return self.engine.pre_start_check

    @pre_start_check.setter
    def pre_start_check(self, check: PreStartCheck | None) -> None:
        self.engine.pre_start_check = check

    @property
    def wait_scale(self) -> float:
        return self.engine.settings.wait_scale

    @wait_scale.setter
    def wait_scale(self, value: float) -> None:
        self.engine.settings.wait_scale = value

    @property
    def settings(self) -> EngineSettings:
        return self.engine.settings

    # -- lifecycle ---------------------------------------------------------------------------

    async def start_worker(self) -> None:
        """Start claiming due runs (every replica runs a worker)."""
        self.worker.start()

    async def resume_unfinished(self) -> int:
        """Start the worker; returns how many runs are waiting for one (they resume as they fall due)."""
        await self.start_worker()
        return await self.engine.work.pending(RUN_WORK)

    async def close(self, timeout: float = 10.0) -> None:
        """Stop claiming; let runs in flight finish the batch they are in (up to ``timeout`` seconds), then cut the
        rest and give their claims back, so the next start (or another replica) resumes them at once. A soak never
        holds shutdown: its due time is stored and nothing waits for it."""
        await self.worker.stop(timeout)
        with contextlib.suppress(Exception):
            pending = await self.engine.work.pending(RUN_WORK)
            if pending:
                logger.info("%d run(s) unfinished at shutdown; they resume at the next start or on another replica", pending)
        await self.engine.probe.close()
        await self.engine.driver.close()

    def wake(self) -> None:
        self.worker.wake()

    async def tick(self) -> list[str]:
        """One claiming round (tests that move a manual clock call this instead of waiting for the poll)."""
        return await self.worker.tick()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until no run is in flight here and none is waiting for a worker (for the CLI and tests)."""

        async def idle() -> None:
            while True:
                if not self.worker.holding and await self.engine.work.pending(RUN_WORK) == 0:
                    return
                await asyncio.sleep(0.02)

        await asyncio.wait_for(idle(), timeout)

    # -- after a failure -------------------------------------------------------------------

    async def _fail_broken(self, claim: Claim, exc: BaseException) -> None:
        """Something outside the driver broke (the store, a bug): roll back what the run changed."""
        try:
            holding = await self._load(claim)
            if holding.run.state in TERMINAL_RUN_STATES:
                return
            await self._roll_back(holding, f"the run broke: {exc}")
        except Exception:
            logger.exception("run %s: could not roll back after a failure; it is retried when its lease lapses", claim.subject)

    async def _load(self, claim: Claim) -> Holding:
        store = self.engine.store
        run = await store.get_run(claim.subject, with_assets=False)
        plan = await store.get_plan(run.plan_id)
        add_log_ids(plan_id=plan.id, task_id=plan.task_id)
        return Holding(self.engine, claim, run, plan)

    async def _drive(self, claim: Claim) -> None:
        holding = await self._load(claim)
        run, plan, work = holding.run, holding.plan, self.engine.work
        await self._ensure_rows(holding)
        state, rollback = await self.engine.store.run_control_state(run.id)
        if state in TERMINAL_RUN_STATES or (state == "paused" and not rollback):
            async with holding.fenced() as conn:
                await work.release(conn, claim, done=True)
            return
        if rollback:
            await self._roll_back(holding, rollback, actor=_actor_of(rollback))
            return
        if state == "queued":
            if not await self._begin(holding):
                return
        elif await self._held_at_boundary(holding):
            return
        index = run.progress.phases_completed
        if index >= len(execution_phases(plan)):
            await self._complete(holding)
            return
        await self._execute_phase(holding, index)

    async def _held_at_boundary(self, holding: Holding) -> bool:
        """Before a phase that has not started (``engine.pre_phase_check``, e.g. a freeze): pause the run there."""
        check, run = self.engine.pre_phase_check, holding.run
        index = run.progress.phases_completed
        if check is None or index >= len(run.phases) or run.phases[index].status != "pending":
            return False
        problems = await check(holding.plan)
        if not problems:
            return False
        await self._pause_holding(holding, ("paused before the next phase: " + "; ".join(problems))[:2000])
        return True

    async def _ensure_rows(self, holding: Holding) -> None:
        """Runs created before per-asset rows existed (or by an older replica) get them now, from their document."""
        store, run = self.engine.store, holding.run
        if await store.run_assets.counts(run.id):
            return
        legacy = await store.get_run(run.id)
        done = [
            {"asset_id": a.asset_id, "previous": a.previous, "current": a.current}
            for p in legacy.phases
            for a in p.assets
            if a.status == "completed"
        ]
        async with holding.fenced() as conn:
            await store.run_assets.insert(conn, run.id, subjects(holding.plan))
            await store.run_assets.adopt(conn, run.id, done)

    # -- control by people -------------------------------------------------------------------

    async def start(self, plan: Plan, actor: str) -> Run:
        """Create a queued run for an approved plan, its per-asset rows and its due work, in one transaction."""
        async with self.engine.store.database.engine.begin() as conn:
            run, appended = await self.start_in(conn, plan, actor)
        await self.engine.bus.publish(appended)
        self.wake()
        return run

    async def start_in(self, conn: AsyncConnection, plan: Plan, actor: str) -> tuple[Run, AuditAppended]:
        """``start`` inside the caller's transaction (the vote that completes a quorum): the caller publishes the
        returned event and calls ``wake`` after the commit."""
        phases = execution_phases(plan)
        run = Run(
            id=str(uuid.uuid4()),
            plan_id=plan.id,
            environment=plan.environment or "all",
            progress=RunProgress(total_phases=len(phases)),
            phases=[PhaseResult(name=p.name) for p in phases],
        )
        store = self.engine.store
        appended = await store.add_run_in(conn, run, actor)
        await store.run_assets.insert(conn, run.id, subjects(plan))
        await self.engine.work.enqueue(RUN_WORK, run.id, conn=conn)
        return run, appended

    def approval_problems(self, plan: Plan) -> list[str]:
        """The plan must still be the one people approved: its hash now (policies included) against the approved one.

        Plans approved before votes were bound to a hash carry none and are not refused for it."""
        approved = plan.approval.plan_hash if plan.approval is not None else None
        if self.plan_hasher is None or approved is None:
            return []
        current = self.plan_hasher(plan)
        if current == approved:
            return []
        return [
            f"the plan or the policies changed since it was approved (approved {approved[:12]}, now {current[:12]}); "
            "plan it again and have it approved again"
        ]

    async def pause(self, run_id: str, actor: str, reason: str | None = None) -> Run:
        """Stop after the phase in flight; nothing is reverted. Raises IllegalTransition unless executing."""
        store = self.engine.store
        before = await store.get_run(run_id, with_assets=False)
        plan = await store.get_plan(before.plan_id)
        async with store.database.engine.begin() as conn:
            # Lock order of every run write: the work row, then the run row, then the audit head (holders take the
            # work row first through their fence; the same order here keeps PostgreSQL free of deadlocks).
            await self.engine.work.mark_done(RUN_WORK, run_id, conn)
            _, appended = await store.transition_in(
                conn, "run", run_id, "paused", actor=actor, reason=reason, expect=("executing",)
            )
            paused = RunPaused(
                task_id=plan.task_id,
                plan_id=plan.id,
                run_id=run_id,
                actor=actor,
                reason=reason,
                phases_completed=before.progress.phases_completed,
                total_phases=before.progress.total_phases,
            )
            await store.emit_in(conn, paused)
        await store.publish(appended, paused)
        return await store.get_run(run_id, with_assets=False)

    async def resume(self, run_id: str, actor: str) -> Run:
        """Re-validate, then carry on with the next phase now.

        Raises IllegalTransition unless paused, ValidationFailed when the plan no longer passes.
        """
        store = self.engine.store
        run = await store.get_run(run_id, with_assets=False)
        if run.state != "paused":
            raise IllegalTransition("run", run_id, run.state, "executing")
        plan = await store.get_plan(run.plan_id)
        problems = self.approval_problems(plan)
        problems = problems or (await self.pre_start_check(plan) if self.pre_start_check else [])
        if problems:
            raise ValidationFailed("the plan no longer passes validation", problems)
        index = run.progress.phases_completed
        if any(s.requires_confirmation for s in layer_of(plan, index)) and index < len(run.phases):
            run.phases[index].confirmed_by = actor
        due = self.engine.clock.now()  # a person resuming means "go on now", soak or not
        run.progress.next_phase_at = None
        async with store.database.engine.begin() as conn:
            await self.engine.work.enqueue(RUN_WORK, run_id, due, conn)  # work row first: see pause()
            await store.save_run_progress(run, conn)
            _, appended = await store.transition_in(conn, "run", run_id, "executing", actor=actor, expect=("paused",))
            resumed = RunResumed(
                task_id=plan.task_id,
                plan_id=plan.id,
                run_id=run_id,
                actor=actor,
                phases_completed=index,
                total_phases=run.progress.total_phases,
            )
            await store.emit_in(conn, resumed)
        await store.publish(appended, resumed)
        self.wake()
        return await store.get_run(run_id)

    async def abort(self, run_id: str, actor: str) -> Run:
        """Stop and revert every asset the run changed (done by whichever worker holds the run, usually at once).
        Raises IllegalTransition when the run has already ended."""
        store = self.engine.store
        run = await store.get_run(run_id, with_assets=False)
        reason = f"aborted by {actor}"
        if run.state == "queued":
            plan = await store.get_plan(run.plan_id)
            try:
                async with store.database.engine.begin() as conn:
                    await self.engine.work.mark_done(RUN_WORK, run_id, conn)  # work row first: see pause()
                    _, appended = await store.transition_in(
                        conn, "run", run_id, "failed", actor=actor, reason=reason, expect=("queued",)
                    )
                    finished = self._finished(run, plan, "failed", reason)
                    await store.emit_in(conn, finished)
            except IllegalTransition:  # a worker started it meanwhile (nothing was written here): roll it back
                run = await store.get_run(run_id, with_assets=False)
            else:
                await store.publish(appended, finished)
                return await store.get_run(run_id)
        if run.state in TERMINAL_RUN_STATES:
            raise IllegalTransition("run", run_id, run.state, "rolled_back")
        # Both in one transaction: a holder finishing a phase either sees the request, or its release comes first
        # and this enqueue (due now) follows it.
        async with store.database.engine.begin() as conn:
            await self.engine.work.enqueue(RUN_WORK, run_id, conn=conn)  # work row first: see pause()
            if not await store.request_rollback(run_id, _marker(reason, actor), conn):
                raise IllegalTransition("run", run_id, run.state, "rolled_back")
        self.wake()
        deadline = asyncio.get_running_loop().time() + ABORT_WAIT_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            current = await store.get_run(run_id, with_assets=False)
            if current.state in TERMINAL_RUN_STATES:
                break
            await asyncio.sleep(0.02)
        return await store.get_run(run_id)

    # -- one claim: begin, a phase, the end ---------------------------------------------------

    async def _begin(self, holding: Holding) -> bool:
        run, plan, store = holding.run, holding.plan, self.engine.store
        problems = self.approval_problems(plan)
        problems = problems or (await self.pre_start_check(plan) if self.pre_start_check else [])
        if problems:
            reason = ("re-validation before start failed: " + "; ".join(problems))[:2000]
            async with holding.fenced() as conn:
                _, appended = await store.transition_in(
                    conn, "run", run.id, "failed", actor=SYSTEM_ACTOR, reason=reason, details={"errors": problems}
                )
                finished = self._finished(run, plan, "failed", reason)
                await store.emit_in(conn, finished)
                await self.engine.work.release(conn, holding.claim, done=True)
            await store.publish(appended, finished)
            return False
        run.started_at = self.engine.clock.now()
        started = RunStarted(
            task_id=plan.task_id,
            plan_id=plan.id,
            run_id=run.id,
            total_phases=len(execution_phases(plan)),
            total_assets=len(plan.payload.affected_assets),
        )
        try:
            async with holding.fenced() as conn:
                await store.save_run_progress(run, conn)
                _, appended = await store.transition_in(conn, "run", run.id, "executing", actor=SYSTEM_ACTOR, expect=("queued",))
                await store.emit_in(conn, started)
        except IllegalTransition:  # aborted while queued, between the claim and this write: nothing to do
            async with holding.fenced() as conn:
                await self.engine.work.release(conn, holding.claim, done=True)
            return False
        await store.publish(appended, started)
        return True

    async def _execute_phase(self, holding: Holding, index: int) -> None:
        run, plan, store, clock = holding.run, holding.plan, self.engine.store, self.engine.clock
        phases = execution_phases(plan)
        phase, total = phases[index], len(phases)
        summary = run.phases[index]
        steps = layer_of(plan, index)
        waiting = [s for s in steps if s.requires_confirmation]
        if waiting and not summary.confirmed_by:
            what = "; ".join(f"step {s.name}" + (f" (`{s.command}`)" if s.command else "") for s in waiting)
            await self._pause_holding(holding, f"{what} needs a person to confirm it")
            return
        if summary.status == "pending":
            summary.status, summary.started_at = "running", clock.now()
            run.progress.current_phase = index
            phase_started = PhaseStarted(
                task_id=plan.task_id,
                plan_id=plan.id,
                run_id=run.id,
                index=index,
                name=phase.name,
                total_phases=total,
                assets=tuple(phase.assets),
            )
            async with holding.fenced() as conn:
                await store.save_run_progress(run, conn)
                await store.emit_in(conn, phase_started)
            await store.publish(phase_started)
        report = await PhaseExecution(holding, index, phase, await self._fleet()).run()
        if report.outcome == "abort":
            await self._roll_back(holding, report.reason, actor=_actor_of(report.reason))
            return
        if report.outcome == "failed":
            await self._roll_back(holding, f"{phase.name}: {report.reason}")
            return
        if report.outcome == "paused":  # the driver found the hosts changed since the plan; nothing was applied
            await self._pause_holding(holding, f"{phase.name}: {report.reason}"[:2000])
            return
        if report.step_output is not None:
            summary.health = {"step": report.step_output}
        metrics: dict[str, float] = {}
        if phase.assets:
            verdict = await self._verdict(phase)
            metrics = verdict.metrics
            summary.health = {**(summary.health or {}), **metrics}
            run.metrics.error_rate = max(run.metrics.error_rate, metrics.get("error_rate", 0.0))
            if verdict.outcome == "fail":
                await self._roll_back(holding, f"{phase.name}: {verdict.reason}")
                return
            if verdict.outcome == "inconclusive":
                summary.health = {**summary.health, "verdict": "inconclusive"}
                if self.engine.settings.on_inconclusive == "rollback":
                    await self._roll_back(holding, f"{phase.name}: health inconclusive: {verdict.reason}")
                    return
                await self._finish_phase(
                    holding,
                    index,
                    metrics,
                    pause_reason=(f"{phase.name}: health inconclusive ({verdict.reason}); Resume to go on, Abort to roll back"),
                )
                return
        await self._finish_phase(holding, index, metrics)

    async def _finish_phase(
        self, holding: Holding, index: int, metrics: dict[str, float], pause_reason: str | None = None
    ) -> None:
        run, plan, store, clock = holding.run, holding.plan, self.engine.store, self.engine.clock
        phases = execution_phases(plan)
        phase, total = phases[index], len(phases)
        summary = run.phases[index]
        summary.status, summary.completed_at = "completed", clock.now()
        run.progress.phases_completed = index + 1
        last = index == total - 1
        wait = None if last else (parse_duration(phase.wait_time) * self.engine.settings.wait_scale if phase.wait_time else 0.0)
        due = clock.now() + timedelta(seconds=wait or 0.0)
        run.progress.next_phase_at = None if last else due
        pause_event = None
        # Drivers that act on hosts (ansible) report per-host outcomes in the thread.
        outcomes, failures = await self._phase_outcomes(run.id, index) if self.engine.driver.acts_on_many else ({}, ())
        completed = PhaseCompleted(
            task_id=plan.task_id,
            plan_id=plan.id,
            run_id=run.id,
            index=index,
            name=phase.name,
            total_phases=total,
            assets_changed=len(phase.assets),
            health=metrics,
            next_wait_seconds=wait,
            outcomes=outcomes,
            failures=failures,
        )
        paused: RunPaused | None = None
        async with holding.fenced() as conn:
            # Read under the fence (on PostgreSQL the work row is locked now): an abort or pause that came in during
            # the phase decides what happens next, not the soak.
            state, rollback = await store.run_control_state(run.id, conn)
            await store.save_run_progress(run, conn)
            await store.emit_in(conn, completed)
            if rollback:
                await self.engine.work.release(conn, holding.claim, due_at=clock.now())  # the next claim rolls back
            elif pause_reason is not None:
                with contextlib.suppress(IllegalTransition):  # a person paused or aborted it meanwhile
                    _, pause_event = await store.transition_in(
                        conn, "run", run.id, "paused", actor=SYSTEM_ACTOR, reason=pause_reason, expect=("executing",)
                    )
                    paused = RunPaused(
                        task_id=plan.task_id,
                        plan_id=plan.id,
                        run_id=run.id,
                        actor=SYSTEM_ACTOR,
                        reason=pause_reason,
                        phases_completed=run.progress.phases_completed,
                        total_phases=total,
                    )
                    await store.emit_in(conn, paused)
                await self.engine.work.release(conn, holding.claim, done=True)
            elif state == "paused":
                await self.engine.work.release(conn, holding.claim, done=True)  # resume enqueues it again
            else:
                await self.engine.work.release(conn, holding.claim, due_at=due)
        crash_point("after_phase")
        await store.publish(completed)
        if pause_event is not None and paused is not None:
            await store.publish(pause_event, paused)
        if due > clock.now() and not last:
            self._arm(due)

    async def _phase_outcomes(self, run_id: str, index: int) -> tuple[dict[str, int], tuple[str, ...]]:
        """Per-outcome counts of a phase's assets and the failed ones with their errors, for the thread.

        A succeeded asset whose driver output starts with ``ok`` changed nothing (the ansible driver's per-host
        summary); a failed one whose error starts with ``unreachable`` was not reached."""
        rows = await self.engine.store.run_assets.rows(run_id, phase_index=index, output_chars=16)
        outcomes: dict[str, int] = {}
        failures: list[str] = []
        for row in rows:
            if row.kind != "asset":
                continue
            if row.status == "failed":
                outcome = "unreachable" if (row.error or "").startswith("unreachable") else "failed"
                failures.append(f"{row.asset_id}: {(row.error or outcome)[:300]}")
            elif row.status == "succeeded":
                outcome = "ok" if (row.output or "").startswith("ok") else "changed"
            else:
                continue
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes, tuple(failures[:PHASE_FAILURE_LINES])

    def _arm(self, due: datetime) -> None:
        self.worker.arm(due)

    async def _pause_holding(self, holding: Holding, reason: str) -> None:
        run, plan, store = holding.run, holding.plan, self.engine.store
        appended = None
        async with holding.fenced() as conn:
            # As in _finish_phase: an abort that came in first wins (the next claim rolls back); a person's pause that
            # came in first stands (nothing more to do).
            state, rollback = await store.run_control_state(run.id, conn)
            if rollback:
                await self.engine.work.release(conn, holding.claim, due_at=self.engine.clock.now())
                return
            paused = RunPaused(
                task_id=plan.task_id,
                plan_id=plan.id,
                run_id=run.id,
                actor=SYSTEM_ACTOR,
                reason=reason,
                phases_completed=run.progress.phases_completed,
                total_phases=run.progress.total_phases,
            )
            if state == "executing":
                _, appended = await store.transition_in(
                    conn, "run", run.id, "paused", actor=SYSTEM_ACTOR, reason=reason, expect=("executing",)
                )
                await store.emit_in(conn, paused)
            await self.engine.work.release(conn, holding.claim, done=True)
        if appended is None:
            return
        await store.publish(appended, paused)

    async def _verdict(self, phase: Phase) -> Verdict:
        longest = max((c.timeout for c in phase.health_checks if c.timeout), key=parse_duration, default=DEFAULT_PROBE_TIMEOUT)
        limit = max(parse_duration(longest) * self.engine.settings.wait_scale, MIN_TIMEOUT_SECONDS)
        try:
            metrics = await asyncio.wait_for(self.engine.probe.measure(phase, list(phase.assets)), timeout=limit)
        except TimeoutError:
            return Verdict("inconclusive", (f"the health probe did not answer within {limit:.0f}s",))
        except HealthInconclusive as exc:
            return Verdict("inconclusive", (str(exc),))
        except HealthCheckFailed as exc:
            return Verdict("fail", (str(exc),))
        except ExecutionError as exc:
            return Verdict("inconclusive", (str(exc),))
        return judge(phase, metrics)

    async def _fleet(self) -> dict[str, Asset]:
        """The fleet as it is now, read once per phase: previous versions, addresses, tags for the driver."""
        return (await self.inventory.fleet()).by_id() if self.inventory is not None else {}

    async def _complete(self, holding: Holding) -> None:
        run, plan, store, clock = holding.run, holding.plan, self.engine.store, self.engine.clock
        run.completed_at = clock.now()
        run.metrics.duration_seconds = _elapsed(run, clock)
        run.progress.next_phase_at = None
        async with holding.fenced() as conn:
            await store.save_run_progress(run, conn)
            _, appended = await store.transition_in(
                conn,
                "run",
                run.id,
                "completed",
                actor=SYSTEM_ACTOR,
                expect=("executing",),
                details={"assets_changed": run.metrics.assets_changed, "duration_seconds": run.metrics.duration_seconds},
            )
            finished = self._finished(run, plan, "completed", None)
            await store.emit_in(conn, finished)
            await self.engine.work.release(conn, holding.claim, done=True)
        crash_point("after_run")
        await store.publish(appended, finished)

    async def _roll_back(self, holding: Holding, reason: str, actor: str = SYSTEM_ACTOR) -> None:
        """Record that the run is rolling back (a takeover carries on), revert, then end rolled_back or failed."""
        run, plan, store, clock = holding.run, holding.plan, self.engine.store, self.engine.clock
        reason = _reason_of(reason)
        async with holding.fenced() as conn:
            await store.request_rollback(run.id, _marker(reason, actor), conn)
        report = await Rollback(holding, await self._fleet()).run()
        run.completed_at = clock.now()
        run.metrics.duration_seconds = _elapsed(run, clock)
        run.progress.next_phase_at = None
        if report.stuck:
            target = "failed"
            reason = f"{reason}; could not revert {', '.join(report.stuck[:20])}: check them by hand"
            details = {"assets_reverted": report.reverted, "not_reverted": report.stuck}
        else:
            target, details = "rolled_back", {"assets_reverted": report.reverted}
        async with holding.fenced() as conn:
            await store.save_run_progress(run, conn)
            _, appended = await store.transition_in(
                conn, "run", run.id, target, actor=actor, reason=reason[:4000], details=details, expect=("executing", "paused")
            )
            finished = self._finished(run, plan, target, reason, report.reverted)
            await store.emit_in(conn, finished)
            await self.engine.work.release(conn, holding.claim, done=True)
        await store.publish(appended, finished)

    def _finished(self, run: Run, plan: Plan, state: str, reason: str | None, reverted: int = 0) -> RunFinished:
        return RunFinished(
            task_id=plan.task_id,
            plan_id=plan.id,
            run_id=run.id,
            state=state,
            reason=reason,
            assets_changed=run.metrics.assets_changed,
            assets_rolled_back=reverted,
            phases_completed=run.progress.phases_completed,
            total_phases=len(execution_phases(plan)),
            duration_seconds=_elapsed(run, self.engine.clock),
        )


def _marker(reason: str, actor: str) -> str:
    return f"{reason}{_SEPARATOR}{actor}"


def _actor_of(marker: str) -> str:
    """Rollback requests carry the reason and who asked; automatic ones are the system's."""
    return marker.split(_SEPARATOR, 1)[1] if _SEPARATOR in marker else SYSTEM_ACTOR


def _reason_of(marker: str) -> str:
    return marker.split(_SEPARATOR, 1)[0]


def _elapsed(run: Run, clock: Clock) -> float:
    if run.started_at is None:
        return 0.0
    return round(((run.completed_at or clock.now()) - run.started_at).total_seconds(), 3)
