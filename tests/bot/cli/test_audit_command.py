from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.intake import Ask
from core.service import OpsPilot

ROOT = Path(__file__).resolve().parents[3]


async def test_audit_replays_a_finished_task(config, tmp_path: Path) -> None:
    service = await OpsPilot.create(config)
    await service.start()
    outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
    await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    await service.close()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", outcome.task.id, "--json"],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": config.database_url, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["consistent"] is True
    events = [e["event"] for e in document["entries"]]
    assert events[0] == "task.created" and "plan.approved" in events and events[-1] == "run.completed"
