"""build_notice: one notice per event, JSON-able, useful with or without the store."""

from __future__ import annotations

import json

import pytest

from core.events import (
    AuditAppended,
    PhaseCompleted,
    PhaseStarted,
    PlanDecided,
    PlanProposed,
    RunFinished,
    RunStarted,
    TaskCreated,
)
from core.notify import build_notice

IDS = {"task_id": "t-1", "plan_id": "p-1"}
RUN = {**IDS, "run_id": "r-1"}

EVENTS = [
    (TaskCreated(task_id="t-1", user_intent="fix drift on prod web", origin={"front": "slack"}), "task_created", "info"),
    (PlanProposed(**IDS, requires_approval=True), "approval_required", "info"),
    (PlanProposed(**IDS, requires_approval=False), "plan_proposed", "info"),
    (PlanDecided(**IDS, decision="approved", actor="U1"), "approved", "info"),
    (PlanDecided(**IDS, decision="rejected", actor="U1"), "rejected", "warning"),
    (RunStarted(**RUN, total_phases=3, total_assets=9), "started", "info"),
    (PhaseStarted(**RUN, index=0, name="Canary", total_phases=3, assets=("a", "b")), "phase_started", "info"),
    (
        PhaseCompleted(
            **RUN, index=0, name="Canary", total_phases=3, assets_changed=2, health={"error_rate": 0.1}, next_wait_seconds=600.0
        ),
        "phase_completed",
        "info",
    ),
    (
        RunFinished(
            **RUN,
            state="completed",
            reason=None,
            assets_changed=9,
            assets_rolled_back=0,
            phases_completed=3,
            total_phases=3,
            duration_seconds=3700,
        ),
        "completed",
        "info",
    ),
    (
        RunFinished(
            **RUN,
            state="failed",
            reason="driver down",
            assets_changed=0,
            assets_rolled_back=0,
            phases_completed=0,
            total_phases=3,
            duration_seconds=1,
        ),
        "failed",
        "critical",
    ),
]


@pytest.mark.parametrize("event, kind, severity", EVENTS, ids=[f"{e.topic}:{k}" for e, k, _ in EVENTS])
async def test_every_transition_makes_a_json_able_notice(event, kind, severity) -> None:
    notice = await build_notice(event)
    assert notice is not None
    assert (notice.topic, notice.kind, notice.severity) == (event.topic, kind, severity)
    assert notice.subject.startswith("[OpsPilot] ")
    assert notice.text.endswith("\n") and "t-1" in notice.text
    data = json.loads(json.dumps(notice.data))
    assert data["topic"] == event.topic and data["kind"] == kind and data["task_id"] == "t-1"
    assert data["at"].endswith("Z") and data["text"] == notice.text
    assert "\n" not in notice.subject


async def test_audit_entries_make_no_notice() -> None:
    event = AuditAppended(entity_type="run", entity_id="r", event="notification.failed", actor="opspilot", details={})
    assert await build_notice(event) is None


async def test_a_failed_run_says_what_happened_without_the_store() -> None:
    notice = await build_notice(EVENTS[-1][0])
    assert "Reason:" in notice.text and "driver down" in notice.text
    assert "failed after 1s" in notice.text
    assert "after 0 of 3 phases" in notice.text


async def test_unknown_ids_in_the_store_degrade_to_the_event(service) -> None:
    notice = await build_notice(EVENTS[-1][0], service.store)
    assert notice is not None and "driver down" in notice.text and notice.data["context"] == {}
