"""Rolling a run back: the current phase first, then the completed phases newest first, with the same
concurrency as the rollout. Each revert carries its own idempotency key (action ``revert``) and restores the
previous state recorded before the first apply. A revert that fails leaves its row as it was, with the error,
and the run ends ``failed`` naming every asset that needs a person. Step plans run their ``on_failure`` steps.

A rollback in progress is recorded on the run (``rollback_requested``), so a worker that takes the run over after
a crash carries on rolling back instead of applying.

What a revert prints is appended to the row's output after a ``--- revert ---`` line (the apply's output stays first;
each revert attempt adds its own section), capped like any driver output, so `opspilot replay RUN_ID --output` shows
both.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from core.domain import Change
from core.errors import DriverError, ExecutionError
from core.executor.context import Holding
from core.executor.drivers import DriverAction, DriverResult, idempotency_key
from core.executor.drivers.output import cap_text
from core.executor.phase import DRIVER_GUARD_SECONDS, asset_ref
from core.executor.plan_graph import execution_phases, rollback_steps
from core.executor.pool import run_limited
from core.inventory.fleet import Asset
from core.store.run_assets import CHANGED, AssetRow

logger = logging.getLogger(__name__)

REVERT_SEPARATOR = "--- revert ---"


@dataclass
class RollbackReport:
    reverted: int = 0
    stuck: list[str] = field(default_factory=list)


class Rollback:
    def __init__(self, holding: Holding, fleet: dict[str, Asset]) -> None:
        self.holding = holding
        self.engine = holding.engine
        self.fleet = fleet
        self.changes = {c.asset_id: c for c in holding.plan.payload.changes}
        self.phases = execution_phases(holding.plan)

    async def run(self) -> RollbackReport:
        run, store = self.holding.run, self.engine.store
        report = RollbackReport()
        rows = [r for r in await store.run_assets.rows(run.id, statuses=CHANGED) if r.kind == "asset"]
        for index in sorted({r.phase_index for r in rows}, reverse=True):
            phase_rows = [r for r in rows if r.phase_index == index]
            size = max(len(phase_rows), 1) if self.engine.driver.acts_on_many else self.engine.batch_size
            for start in range(0, len(phase_rows), size):
                await self._batch(phase_rows[start : start + size], report)
        for index, summary in enumerate(run.phases):
            if summary.status == "running" or any(r.phase_index == index for r in rows):
                summary.status = "rolled_back"
        for step in rollback_steps(self.holding.plan):
            key = idempotency_key(run.id, len(self.phases), step.name, "step")
            action = DriverAction(
                action="step", run_id=run.id, phase="rollback", phase_index=len(self.phases), key=key, attempt=1, step=step
            )
            try:
                await asyncio.wait_for(self.engine.driver.perform(action), DRIVER_GUARD_SECONDS)
            except (ExecutionError, TimeoutError) as exc:
                logger.warning("rollback step %s of run %s failed: %s", step.name, run.id, exc)
                report.stuck.append(f"step {step.name} ({exc or 'timed out'})")
        return report

    async def _batch(self, batch: list[AssetRow], report: RollbackReport) -> None:
        run, store, clock = self.holding.run, self.engine.store, self.engine.clock
        attempts = {row.id: row.revert_attempt + 1 for row in batch}
        async with self.holding.fenced() as conn:
            await store.run_assets.mark_reverting(conn, list(attempts), attempts)

        def revert_of(row: AssetRow) -> DriverAction:
            change = self.changes.get(row.asset_id) or Change(asset_id=row.asset_id, action="noop")
            return DriverAction(
                action="revert",
                run_id=run.id,
                phase=self.phases[row.phase_index].name if row.phase_index < len(self.phases) else "",
                phase_index=row.phase_index,
                key=idempotency_key(run.id, row.phase_index, row.asset_id, "revert"),
                attempt=attempts[row.id],
                asset=asset_ref(row.asset_id, self.fleet.get(row.asset_id)),
                change=change,
                # The change as it was applied (before -> after); a revert goes back to from_version.
                from_version=row.previous,
                to_version=row.current or change.to_version,
            )

        def outcome(row: AssetRow, error: BaseException | None, printed: str = "") -> dict:
            output = with_revert_output(row.output, printed or (f"{error or 'timed out'}" if error is not None else ""))
            if error is None:
                return {
                    "id": row.id,
                    "status": "rolled_back",
                    "error": None,
                    "output": output,
                    "ended_at": clock.now(),
                    "subject": row.asset_id,
                }
            logger.warning("could not revert %s in run %s: %s", row.asset_id, run.id, error or "timed out")
            message = f"revert failed: {error or 'timed out'}"[:2000]
            return {
                "id": row.id,
                "status": row.status,
                "error": message,
                "output": output,
                "ended_at": clock.now(),
                "subject": row.asset_id,
            }

        async def one(row: AssetRow) -> dict:
            try:
                async with asyncio.timeout(DRIVER_GUARD_SECONDS):
                    result = await self.engine.driver.perform(revert_of(row))
            except DriverError as exc:
                return outcome(row, exc, exc.output)
            except (ExecutionError, TimeoutError) as exc:
                return outcome(row, exc)
            return outcome(row, None, result.output)

        if self.engine.driver.acts_on_many:  # one rollback playbook run over the phase's changed hosts
            try:
                answers: list[DriverResult | DriverError] = await self.engine.driver.perform_many([revert_of(r) for r in batch])
            except (DriverError, ExecutionError) as exc:
                answers = [exc if isinstance(exc, DriverError) else DriverError(str(exc))] * len(batch)
            results = [
                outcome(r, a, a.output) if isinstance(a, DriverError) else outcome(r, None, a.output)
                for r, a in zip(batch, answers, strict=True)
            ]
        else:
            results = await run_limited(batch, self.engine.settings.concurrency, one)
        report.reverted += sum(1 for r in results if r["status"] == "rolled_back")
        report.stuck += [r["subject"] for r in results if r["status"] != "rolled_back"]
        async with self.holding.fenced() as conn:
            await store.run_assets.record_reverts(
                conn, [{k: r[k] for k in ("id", "status", "error", "output", "ended_at")} for r in results]
            )


def with_revert_output(output: str | None, printed: str) -> str | None:
    """The row's output with what the revert printed appended after a ``--- revert ---`` line (capped)."""
    if not printed:
        return output
    section = f"{REVERT_SEPARATOR}\n{printed.rstrip()}"
    return cap_text(f"{output.rstrip()}\n{section}" if output else section)
