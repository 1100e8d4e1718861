"""JSON views: the documents of ``schemas/`` (Task, TaskSpec, Plan, Run), wrapped for each endpoint."""

from __future__ import annotations

from typing import Any

from core.domain import Plan, Run, Task
from core.service import AskOutcome, OpsPilot


def task_view(task: Task) -> dict[str, Any]:
    return task.to_document()


def plan_view(plan: Plan | None) -> dict[str, Any] | None:
    return plan.to_document() if plan is not None else None


def run_view(run: Run | None) -> dict[str, Any] | None:
    return run.to_document() if run is not None else None


def outcome_view(outcome: AskOutcome, *, dry_run: bool) -> dict[str, Any]:
    """What ``POST /execute`` answers; a dry run has no stored task (``task`` is null)."""
    if dry_run:
        plan = outcome.plan
        # What submitting would lead to: a valid change plan waits for a person unless auto-approval takes it.
        requires_approval = (
            plan is not None
            and plan.state == "validated"
            and not plan.is_report
            and (plan.quality is None or plan.quality.requires_approval)
        )
    else:
        requires_approval = outcome.needs_decision
    return {
        "task": task_view(outcome.task) if outcome.task is not None and not dry_run else None,
        "task_spec": outcome.spec.to_document() if outcome.spec is not None else None,
        "plan": plan_view(outcome.plan),
        "message": outcome.message,
        "note": outcome.note,
        "requires_approval": requires_approval,
        "dry_run": dry_run,
    }


def agents_view(service: OpsPilot) -> dict[str, Any]:
    return {
        "agents": [
            {
                "name": a.name,
                "title": a.title,
                "description": a.description,
                "task_types": list(a.task_types),
                "tools": list(a.tools),
            }
            for a in service.agents.all()
        ]
    }


def tools_view(service: OpsPilot) -> dict[str, Any]:
    return {"tools": [{"name": t.name, "description": t.description, "risk": t.risk} for t in service.tools.all()]}
