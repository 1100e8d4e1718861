"""One OpsPilot worker process for the crash and replica tests (run as a script, killed at will).

``crash_worker.py CONFIG create``: submit "fix drift on staging web servers" (or $OPSPILOT_TEST_ASK), approve it,
start the worker and wait until the run ends. ``work``: only run the worker until a run exists and has ended. ``abort``: ask the (only) run to roll
back before the worker starts, then work. The database comes from DATABASE_URL; OPSPILOT_CRASH_AT may kill the
process at a crash point. Stdout gets JSON lines: ``{"run": id}`` once known, ``{"ready": true}`` once the worker
runs, and a final report with the run's state, its per-asset rows and its audit transitions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

from core.config import load_config
from core.domain.states import TERMINAL_RUN_STATES
from core.intake import Ask
from core.service import OpsPilot

ASK = os.environ.get("OPSPILOT_TEST_ASK") or "fix drift on staging web servers"
REQUESTER = "U0REQUESTER"
APPROVER = "U0APPROVER1"


def say(**values: Any) -> None:
    print(json.dumps(values), flush=True)


async def only_run(service: OpsPilot) -> str:
    while True:
        runs = await service.store.runs_in_states(["queued", "executing", "paused", *TERMINAL_RUN_STATES])
        if runs:
            assert len(runs) == 1, [r.id for r in runs]
            return runs[0].id
        await asyncio.sleep(0.05)


async def main(config_path: str, mode: str) -> None:
    service = await OpsPilot.create(load_config(config_path))
    try:
        run_id: str | None = None
        aborting: asyncio.Task | None = None
        if mode == "create":
            outcome = await service.submit(Ask.from_front(ASK, REQUESTER))
            assert outcome.plan is not None, outcome
            decided = await service.decide(outcome.plan.id, APPROVER, "approved")
            assert decided.run is not None, decided
            run_id = decided.run.id
            say(run=run_id)
        elif mode == "abort":
            run_id = await only_run(service)
            aborting = asyncio.create_task(service.control_run(run_id, APPROVER, "abort"))
            while (await service.store.run_control_state(run_id))[1] is None:  # recorded before the worker starts
                await asyncio.sleep(0.01)
        await service.start()
        say(ready=True)
        run_id = run_id or await only_run(service)
        while (run := await service.store.get_run(run_id, with_assets=False)).state not in TERMINAL_RUN_STATES:
            await asyncio.sleep(0.05)
        if aborting is not None:
            await aborting
        rows = await service.store.run_assets.rows(run_id)
        audit = await service.store.audit_entries([run_id])
        say(
            run=run_id,
            state=run.state,
            reason=run.status.reason,
            rows={
                r.asset_id: {
                    "status": r.status,
                    "previous": r.previous,
                    "current": r.current,
                    "key": r.idempotency_key,
                    "attempt": r.attempt,
                    "phase": r.phase_index,
                }
                for r in rows
            },
            transitions=[e.event for e in audit],
        )
    finally:
        await service.close()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(main(sys.argv[1], sys.argv[2]))
