"""Envelopes of typical events, as the outbox writer makes them."""

from __future__ import annotations

from core.events import (
    AskAnswered,
    AuditAppended,
    Event,
    PhaseStarted,
    PlanDecided,
    PlanProposed,
    RunFinished,
    RunPaused,
    TaskFailed,
    TaskPlanned,
)
from core.outbox.base import Delivery
from core.outbox.envelope import CloudEvent, to_cloud_event


def envelope(event: Event, environment: str | None = "production") -> CloudEvent:
    return to_cloud_event(event, environment=environment)


def finished(state: str = "rolled_back", environment: str | None = "production") -> CloudEvent:
    return envelope(
        RunFinished(
            task_id="task-1",
            plan_id="plan-1",
            run_id="run-1",
            state=state,
            reason="Wave 1: rollback_if error_rate 9 > 5" if state != "completed" else None,
            assets_changed=4,
            assets_rolled_back=4 if state == "rolled_back" else 0,
            phases_completed=1,
            total_phases=3,
            duration_seconds=125.0,
        ),
        environment,
    )


def phase_started(environment: str | None = "production") -> CloudEvent:
    event = PhaseStarted(
        task_id="task-1", plan_id="plan-1", run_id="run-1", index=0, name="Canary", total_phases=3, assets=("a",)
    )
    return envelope(event, environment)


def planned(environment: str | None = "production") -> CloudEvent:
    event = TaskPlanned(task_id="task-1", plan_id="plan-1", environment=environment, agent="drift", requires_approval=True)
    return envelope(event, environment)


def approval_required(requires_approval: bool = True) -> CloudEvent:
    return envelope(PlanProposed(task_id="task-1", plan_id="plan-1", requires_approval=requires_approval))


def decided(decision: str) -> CloudEvent:
    return envelope(PlanDecided(task_id="task-1", plan_id="plan-1", decision=decision, actor="U0APPROVER1"))


def planning_failed() -> CloudEvent:
    return envelope(TaskFailed(task_id="task-2", reason="no valid plan", errors=("schema: phases missing",)), None)


def paused() -> CloudEvent:
    event = RunPaused(task_id="task-1", plan_id="plan-1", run_id="run-1", actor="opspilot", phases_completed=1, total_phases=3)
    return envelope(event)


def ask_answered() -> CloudEvent:
    event = AskAnswered(ask_id="ask-1", task_id="task-1", plan_id=None, outcome="failed", message="no")
    return envelope(event, None)


def audit_appended(what: str = "notification.refused") -> CloudEvent:
    event = AuditAppended(entity_type="run", entity_id="run-1", event=what, actor="opspilot", details={})
    return envelope(event, None)


def first(event: CloudEvent, attempt: int = 1) -> Delivery:
    return Delivery(event=event, attempt=attempt)
