"""Shutdown never drops a notification silently: what is cut short is counted in the log and audited."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.errors import NotFound
from core.events import RunFinished
from core.notify import NotificationHub, Notifier
from core.notify.notice import Notice
from core.notify.settings import WEBHOOK_TOPICS

FINISHED = RunFinished(
    task_id="task-s",
    plan_id="plan-s",
    run_id="run-s",
    state="rolled_back",
    reason="canary unhealthy",
    assets_changed=1,
    assets_rolled_back=1,
    phases_completed=0,
    total_phases=2,
    duration_seconds=1.0,
)


class Stuck(Notifier):
    """A receiver that never answers (e.g. a webhook being retried with backoff)."""

    name = "stuck"

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(WEBHOOK_TOPICS)

    def wants(self, notice: Notice) -> bool:
        return True

    async def notify(self, notice: Notice) -> None:
        await asyncio.Event().wait()


class AuditLog:
    """Just enough of the store: nothing to look up, an audit log to write to."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str, str, dict]] = []

    async def get_task(self, task_id: str) -> None:
        raise NotFound(task_id)

    get_plan = get_run = get_task

    async def append_audit(self, entity_type: str, entity_id: str, event: str, actor: str, details: dict | None = None) -> None:
        self.entries.append((entity_type, entity_id, event, actor, details or {}))


async def test_deliveries_cut_by_shutdown_are_counted_and_audited(caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditLog()
    hub = NotificationHub([Stuck()], audit)  # type: ignore[arg-type]
    await hub.on_event(FINISHED)
    await asyncio.sleep(0)
    assert hub.in_flight == 1
    with caplog.at_level(logging.WARNING, logger="core.notify.hub"):
        await hub.close(timeout=0.1)
    assert hub.in_flight == 0
    assert "dropped 1 notification(s) still being delivered at shutdown" in caplog.text
    dropped = [e for e in audit.entries if e[2] == "notification.dropped"]
    assert dropped == [
        (
            "run",
            "run-s",
            "notification.dropped",
            "opspilot",
            {"topic": "task.completed", "reason": "still being delivered at shutdown"},
        )
    ]
