"""Executing one phase: its assets (or steps) through the driver, ``executor.concurrency`` at a time.

For each batch: record intent (rows ``running`` with the idempotency key, the attempt and the previous state read
before the change) in one fenced transaction, call the driver, record the results and the run's counters in one
fenced transaction. A crash between the two repeats the call with the same key and keeps the previous state
recorded before the first attempt, which is what a rollback restores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from typing import Literal

from core.domain import Change, Phase, Step
from core.errors import DriftChanged, DriverError, ExecutionError
from core.executor.context import Holding
from core.executor.crashpoints import crash_point
from core.executor.drivers import Action, AssetRef, DriverAction, DriverResult, idempotency_key
from core.executor.limits import allowed_failures
from core.executor.plan_graph import layer_of
from core.executor.pool import run_limited
from core.inventory.fleet import Asset
from core.store.run_assets import AssetRow
from core.timeutil import parse_duration

logger = logging.getLogger(__name__)

MIN_TIMEOUT_SECONDS = 30.0  # a scaled step timeout never drops below this (wait_scale may be 0)
DEFAULT_STEP_TIMEOUT = "15m"
DRIVER_GUARD_SECONDS = 3600.0  # outer bound on one driver call; drivers enforce their own, shorter timeouts
MAX_BACKOFF_SECONDS = 60.0
ERROR_CAP = 2000
DRIVER_STOP_SECONDS = 15.0  # how long a cancelled many-asset driver call gets to stop what it started

PhaseOutcome = Literal["done", "failed", "abort", "paused"]


class _Interrupted(Exception):
    """A many-asset driver call did not finish the batch: an abort came in (its rows stay ``running``, so the
    rollback reverts them), or the driver found the hosts changed since the plan (rows back to ``pending``)."""

    def __init__(self, outcome: PhaseOutcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome, self.reason = outcome, reason


@dataclass
class PhaseReport:
    outcome: PhaseOutcome
    reason: str = ""
    changed: int = 0
    failed: int = 0
    step_output: str | None = None


def asset_ref(asset_id: str, asset: Asset | None) -> AssetRef:
    if asset is None:
        return AssetRef(id=asset_id)
    return AssetRef(id=asset.id, address=asset.address, image=asset.image, tags=tuple(asset.tags), service=asset.service)


class PhaseExecution:
    def __init__(self, holding: Holding, index: int, phase: Phase, fleet: dict[str, Asset]) -> None:
        self.holding = holding
        self.engine = holding.engine
        self.index = index
        self.phase = phase
        self.fleet = fleet
        self.changes = {c.asset_id: c for c in holding.plan.payload.changes}
        self.steps = {s.name: s for s in layer_of(holding.plan, index)}

    async def run(self) -> PhaseReport:
        run, store = self.holding.run, self.engine.store
        rows = await store.run_assets.rows(run.id, phase_index=self.index)
        limit = allowed_failures(self.engine.settings.max_failures, len(rows)) if not self.steps else 0
        failed = sum(1 for r in rows if r.status == "failed")
        changed = sum(1 for r in rows if r.status == "succeeded")
        todo = [r for r in rows if r.status in ("pending", "running")]
        outputs: list[str] = []
        # A driver that acts on many assets at once (Ansible) gets the whole phase in one batch.
        size = max(len(todo), 1) if self.engine.driver.acts_on_many and not self.steps else self.engine.batch_size
        for start in range(0, len(todo), size):
            _state, rollback = await store.run_control_state(run.id)
            if rollback:
                return PhaseReport("abort", rollback, changed, failed)
            batch = todo[start : start + size]
            try:
                results = await self._batch(batch)
            except _Interrupted as interrupted:
                return PhaseReport(interrupted.outcome, interrupted.reason, changed, failed)
            changed += sum(1 for r in results if r["status"] == "succeeded")
            failed += sum(1 for r in results if r["status"] == "failed")
            named = len(self.steps) > 1
            outputs += [
                (f"{r['subject']}: " if named else "") + (r["output"] or r["error"] or "ok")
                for r in results
                if r["kind"] == "step"
            ]
            if failed > limit:
                errors = [f"{r['subject']}: {r['error']}" for r in results if r["status"] == "failed"][:5]
                what = "step" if self.steps else f"asset(s) failed (limit {limit})"
                reason = f"{failed} {what}: " + "; ".join(errors) if not self.steps else "; ".join(errors)
                return PhaseReport("failed", reason, changed, failed)
        return PhaseReport("done", "", changed, failed, "\n".join(outputs) or None)

    async def _batch(self, batch: list[AssetRow]) -> list[dict]:
        run, store, clock = self.holding.run, self.engine.store, self.engine.clock
        now = clock.now()
        actions: list[tuple[AssetRow, DriverAction, Step | None]] = []
        marks = []
        for row in batch:
            attempt = row.attempt + 1
            step = self.steps.get(row.asset_id) if row.kind == "step" else None
            action: Action = "step" if step is not None else "apply"
            key = row.idempotency_key or idempotency_key(run.id, self.index, row.asset_id, action)
            asset = self.fleet.get(row.asset_id)
            change = self.changes.get(row.asset_id) or (None if step else Change(asset_id=row.asset_id, action="noop"))
            # The previous state is read once, before the first attempt; a repeat keeps it.
            previous = row.previous if row.status == "running" else (asset.image_version if asset is not None else None)
            actions.append(
                (
                    row,
                    DriverAction(
                        action=action,
                        run_id=run.id,
                        phase=self.phase.name,
                        phase_index=self.index,
                        key=key,
                        attempt=attempt,
                        asset=None if step else asset_ref(row.asset_id, asset),
                        change=change,
                        step=step,
                        from_version=previous,
                        to_version=change.to_version if change else None,
                    ),
                    step,
                )
            )
            marks.append({"id": row.id, "idempotency_key": key, "attempt": attempt, "previous": previous, "started_at": now})
        async with self.holding.fenced() as conn:
            await store.run_assets.mark_running(conn, marks)
        crash_point("before_driver")

        async def one(item: tuple[AssetRow, DriverAction, Step | None]) -> dict:
            row, action, step = item
            result, error, output, attempt = await self._perform(action, step)
            return {
                "id": row.id,
                "subject": row.asset_id,
                "kind": row.kind,
                "status": "succeeded" if error is None else "failed",
                "current": result.current if result else None,
                "error": error,
                "output": output or None,
                "ended_at": clock.now(),
                "attempt": attempt,
            }

        if self.engine.driver.acts_on_many and not self.steps:
            results = await self._perform_many(actions)
        else:
            results = await run_limited(actions, self.engine.settings.concurrency, one)
        crash_point("after_driver")
        run.metrics.assets_changed += sum(1 for r in results if r["status"] == "succeeded" and r["kind"] == "asset")
        run.metrics.assets_failed += sum(1 for r in results if r["status"] == "failed")
        async with self.holding.fenced() as conn:
            await store.run_assets.record(
                conn, [{k: r[k] for k in ("id", "status", "current", "error", "output", "ended_at", "attempt")} for r in results]
            )
            await store.save_run_progress(run, conn)
        crash_point("after_save")
        return results

    async def _perform_many(self, actions: list[tuple[AssetRow, DriverAction, Step | None]]) -> list[dict]:
        """One call for the whole batch; a driver that breaks as a whole fails every asset of it.

        While the call runs, an abort is looked for every ``poll_interval``: it cancels the call (the driver stops
        its playbook) and the phase ends ``abort`` with the rows ``running``. DriftChanged puts the rows back to
        ``pending`` and the phase ends ``paused`` with the driver's message."""
        many = self.engine.driver.perform_many([a for _, a, _ in actions])
        call = asyncio.create_task(many)
        try:
            while not call.done():
                await asyncio.wait({call}, timeout=self.engine.settings.poll_interval)
                if call.done():
                    break
                _state, rollback = await self.engine.store.run_control_state(self.holding.run.id)
                if rollback:
                    logger.warning("run %s: abort during %s; stopping the driver", self.holding.run.id, self.phase.name)
                    call.cancel()
                    with contextlib.suppress(BaseException):
                        await call
                    raise _Interrupted("abort", rollback)
            outcomes: list[DriverResult | DriverError] = call.result()
        except asyncio.CancelledError:
            call.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(call, DRIVER_STOP_SECONDS)
            raise
        except DriftChanged as exc:
            async with self.holding.fenced() as conn:
                await self.engine.store.run_assets.record(
                    conn,
                    [
                        {"id": row.id, "status": "pending", "current": None, "error": None, "output": None}
                        | {"ended_at": None, "attempt": action.attempt}
                        for row, action, _ in actions
                    ],
                )
            raise _Interrupted("paused", str(exc)) from exc
        except (DriverError, ExecutionError) as exc:
            outcomes = [exc if isinstance(exc, DriverError) else DriverError(str(exc))] * len(actions)
        if len(outcomes) != len(actions):
            outcomes = [
                DriverError(f"driver {self.engine.driver.name} answered {len(outcomes)} results for {len(actions)} assets")
            ] * len(actions)
        now = self.engine.clock.now()
        return [
            {
                "id": row.id,
                "subject": row.asset_id,
                "kind": row.kind,
                "attempt": action.attempt,
                "ended_at": now,
                "status": "failed" if isinstance(outcome, DriverError) else "succeeded",
                "current": None if isinstance(outcome, DriverError) else outcome.current,
                "error": (str(outcome) or "failed")[:ERROR_CAP] if isinstance(outcome, DriverError) else None,
                "output": outcome.output or None,
            }
            for (row, action, _), outcome in zip(actions, outcomes, strict=True)
        ]

    async def _perform(self, action: DriverAction, step: Step | None) -> tuple[DriverResult | None, str | None, str, int]:
        """Call the driver; steps get their timeout and retries with exponential backoff under the same key."""
        retries = (step.retries or 0) if step is not None else 0
        timeout = self._step_timeout(step) if step is not None else DRIVER_GUARD_SECONDS
        attempt, error, output = action.attempt, "", ""
        for tried in range(retries + 1):
            current = action if tried == 0 else replace(action, attempt=attempt)
            try:
                async with asyncio.timeout(timeout):
                    result = await self.engine.driver.perform(current)
                return result, None, result.output, attempt
            except TimeoutError:
                error, output = f"timed out after {timeout:g}s", ""
            except DriverError as exc:
                error, output = (str(exc) or type(exc).__name__)[:ERROR_CAP], exc.output or ""
            except ExecutionError as exc:
                error, output = (str(exc) or type(exc).__name__)[:ERROR_CAP], ""
            if tried < retries:
                backoff = min(2.0**tried, MAX_BACKOFF_SECONDS) * self.engine.settings.wait_scale
                logger.info("step %s failed (%s); retry %d of %d in %.1fs", action.subject, error, tried + 1, retries, backoff)
                await asyncio.sleep(backoff)
                attempt += 1
        return None, error, output, attempt

    def _step_timeout(self, step: Step) -> float:
        return max(parse_duration(step.timeout or DEFAULT_STEP_TIMEOUT) * self.engine.settings.wait_scale, MIN_TIMEOUT_SECONDS)
