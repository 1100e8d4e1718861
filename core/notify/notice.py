"""One Notice per domain event, so every notifier says the same thing.

:func:`build_notice` turns an event into a subject, a severity, a plain-text body written for
the on-call engineer who reads it at 3 a.m., and a JSON-able dict (the ``format: legacy`` webhook
body). With a store it looks up the ask, the plan, the approval and the run to say more; without
one, or when a lookup fails, it says what the event itself carries. :func:`notice_for` does the
same for an outbox envelope (``CloudEvent``), and still says something for a type it has no words for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from core.errors import OpsPilotError
from core.events import (
    ApprovalExpired,
    Event,
    FreezeChanged,
    PhaseCompleted,
    PhaseStarted,
    PlanDecided,
    PlanProposed,
    PlanSuperseded,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    TaskCreated,
    TaskFailed,
    TaskPlanned,
    VoteRecorded,
)
from core.notify.revive import revive
from core.timeutil import format_duration, isoformat

if TYPE_CHECKING:
    from core.domain import Plan, Task
    from core.domain.run import Run
    from core.outbox.envelope import CloudEvent
    from core.store import Store

logger = logging.getLogger(__name__)

Severity = Literal["info", "warning", "error", "critical"]
_LISTED = 10  # asset ids spelled out in a body before "and N more"


@dataclass(frozen=True, kw_only=True)
class Notice:
    topic: str  # the event's topic, e.g. "task.completed"
    kind: str  # what happened, e.g. "rolled_back", "approval_required", "phase_started"
    severity: Severity
    subject: str
    text: str
    at: datetime
    task_id: str | None = None
    plan_id: str | None = None
    run_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # JSON-able; the webhook body


@dataclass(frozen=True)
class _Found:
    task: Task | None = None
    plan: Plan | None = None
    run: Run | None = None


@dataclass
class _Draft:
    kind: str
    severity: Severity
    headline: str
    lines: list[tuple[str, str]]
    context: dict[str, Any] = field(default_factory=dict)


async def build_notice(event: Event, store: Store | None = None) -> Notice | None:
    """The notice for ``event``, or None for events nobody is notified about (audit entries)."""
    describe = _DESCRIBERS.get(type(event))
    if describe is None:
        return None
    found = await _look_up(event, store)
    draft = describe(event, found)
    environment = found.plan.environment if found.plan else None
    ask = found.task.user_intent if found.task else getattr(event, "user_intent", None)
    context = {**_common_context(found), **draft.context}
    ids = {k: getattr(event, k, None) for k in ("task_id", "plan_id", "run_id")}
    subject = (
        f"[OpsPilot] {draft.headline}" + (f" ({environment})" if environment else "") + (f": {_clip(ask, 80)}" if ask else "")
    )
    text = _body(draft, found, ids)
    data = {
        "topic": event.topic,
        "kind": draft.kind,
        "severity": draft.severity,
        "at": isoformat(event.at),
        **ids,
        **_event_fields(event),
        "subject": subject,
        "text": text,
        "context": context,
    }
    return Notice(
        topic=event.topic,
        kind=draft.kind,
        severity=draft.severity,
        subject=subject,
        text=text,
        at=event.at,
        data=data,
        **ids,
    )


async def notice_for(event: CloudEvent, store: Store | None = None) -> Notice:
    """The notice for an outbox envelope: the domain event's words when it revives into one OpsPilot describes,
    else a plain account of the envelope (type, environment and the scalar fields of ``data``)."""
    domain_event = revive(event)
    notice = await build_notice(domain_event, store) if domain_event is not None else None
    if notice is not None:
        return notice
    return _plain_notice(event)


def _plain_notice(event: CloudEvent) -> Notice:
    headline = event.type.replace(".", " ").replace("_", " ").capitalize()
    where = f" ({event.environment})" if event.environment else ""
    lines = [f"{headline}{where}.", ""]
    shown = {k: v for k, v in event.data.items() if v is not None and not isinstance(v, dict | list) and not k.endswith("_id")}
    width = max((len(k) for k in shown), default=0) + 1
    lines += [f"{(key.replace('_', ' ').capitalize() + ':').ljust(width)} {value}" for key, value in shown.items()]
    ids = {k: event.data.get(k) for k in ("task_id", "plan_id", "run_id")}
    lines += ["", *(f"{k.removesuffix('_id').capitalize()} id: {v}" for k, v in ids.items() if v)]
    if ids["task_id"]:
        lines += ["", f"Audit trail: opspilot audit {ids['task_id']}"]
    return Notice(
        topic=event.type,
        kind=event.type,
        severity=event.severity,
        subject=f"[OpsPilot] {headline}{where}",
        text="\n".join(lines) + "\n",
        at=event.time,
        data=event.data,
        task_id=ids["task_id"],
        plan_id=ids["plan_id"],
        run_id=ids["run_id"],
    )


# -- lookups ---------------------------------------------------------------------------------


async def _look_up(event: Event, store: Store | None) -> _Found:
    if store is None:
        return _Found()
    task = plan = run = None
    try:
        if getattr(event, "task_id", None):
            task = await store.get_task(event.task_id)  # type: ignore[attr-defined]
        if getattr(event, "plan_id", None):
            plan = await store.get_plan(event.plan_id)  # type: ignore[attr-defined]
        if getattr(event, "run_id", None):
            run = await store.get_run(event.run_id)  # type: ignore[attr-defined]
    except OpsPilotError as exc:
        logger.info("notice for %s says less than usual: %s", event.topic, exc)
    return _Found(task, plan, run)


def _common_context(found: _Found) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if found.task is not None:
        context.update(ask=found.task.user_intent, requested_by=found.task.created_by)
    if found.plan is not None:
        plan = found.plan
        context.update(
            environment=plan.environment,
            plan_type=plan.type,
            agent=plan.agent,
            summary=plan.payload.summary,
            affected_assets=len(plan.payload.affected_assets),
            quality_score=plan.quality_score,
        )
        if plan.approval is not None:
            context.update(
                decision=plan.approval.decision,
                decided_by=plan.approval.decided_by,
                decided_at=isoformat(plan.approval.decided_at),
                decision_reason=plan.approval.reason,
            )
    return context


def _event_fields(event: Event) -> dict[str, Any]:
    skip = {"at", "task_id", "plan_id", "run_id"}
    return {f.name: _jsonable(getattr(event, f.name)) for f in fields(event) if f.name not in skip}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


# -- one describer per event -----------------------------------------------------------------


def _task_created(event: TaskCreated, found: _Found) -> _Draft:
    return _Draft("task_created", "info", "New ask", [("Ask", f'"{event.user_intent}"')])


def _plan_proposed(event: PlanProposed, found: _Found) -> _Draft:
    kind = "approval_required" if event.requires_approval else "plan_proposed"
    headline = "Approval needed" if event.requires_approval else "Plan ready"
    lines = _plan_lines(found)
    if found.plan is not None and found.plan.payload.phases:
        lines.append(("Phases", ", ".join(f"{p.name} ({len(p.assets)})" for p in found.plan.payload.phases)))
    if found.plan is not None and found.plan.quality_score is not None:
        lines.append(("Quality", f"{found.plan.quality_score}/100"))
    if event.requires_approval:
        lines.append(("Next", "an approver must approve or reject this plan; nothing runs before that"))
    return _Draft(kind, "info", headline, lines)


def _plan_decided(event: PlanDecided, found: _Found) -> _Draft:
    rejected = event.decision == "rejected"
    lines = _plan_lines(found, with_approval=False)
    lines.append(("Decision", f"{event.decision} by {event.actor}"))
    reason = found.plan.approval.reason if found.plan is not None and found.plan.approval else None
    if reason:
        lines.append(("Reason", reason))
    if rejected:
        lines.append(("Next", "nothing will run; ask again or re-plan if the change is still needed"))
    return _Draft(event.decision, "warning" if rejected else "info", f"Plan {event.decision}", lines)


def _run_started(event: RunStarted, found: _Found) -> _Draft:
    lines = _plan_lines(found)
    lines.append(("Run", f"{event.total_phases} phases, {event.total_assets} assets"))
    return _Draft("started", "info", "Run started", lines)


def _phase_started(event: PhaseStarted, found: _Found) -> _Draft:
    lines = _plan_lines(found)
    lines.append(("Phase", f"{event.index + 1}/{event.total_phases} {event.name}"))
    if event.assets:
        lines.append(("Assets", _listed(list(event.assets))))
    context = {"phase": {"index": event.index, "name": event.name}}
    return _Draft("phase_started", "info", f"Phase {event.index + 1}/{event.total_phases} started", lines, context)


def _phase_completed(event: PhaseCompleted, found: _Found) -> _Draft:
    lines = _plan_lines(found)
    lines.append(("Phase", f"{event.index + 1}/{event.total_phases} {event.name}: {event.assets_changed} assets changed"))
    if event.health:
        lines.append(("Health", ", ".join(f"{k} {v:g}" for k, v in event.health.items())))
    if event.next_wait_seconds:
        lines.append(("Next", f"next phase in {format_duration(event.next_wait_seconds)}"))
    context = {"phase": {"index": event.index, "name": event.name}}
    return _Draft("phase_completed", "info", f"Phase {event.index + 1}/{event.total_phases} completed", lines, context)


_FINISHED = {
    "completed": ("info", "Run completed", "completed"),
    "rolled_back": ("error", "Run ROLLED BACK", "rolled back"),
    "failed": ("critical", "Run FAILED", "failed"),
}


def _run_finished(event: RunFinished, found: _Found) -> _Draft:
    severity, headline, verb = _FINISHED.get(event.state, ("warning", f"Run {event.state}", event.state))
    lines = _plan_lines(found)
    lines.append(("Outcome", f"{verb} after {format_duration(event.duration_seconds)}"))
    context: dict[str, Any] = {}
    if event.state != "completed":
        lines.append(("Phase", _failed_phase(event, found.run)))
        if event.reason:
            lines.append(("Reason", event.reason))
    assets = f"{event.assets_changed} changed"
    if event.state == "rolled_back":
        assets += f", {event.assets_rolled_back} reverted to their previous versions"
    lines.append(("Assets", f"{assets} ({event.phases_completed}/{event.total_phases} phases completed)"))
    if found.run is not None:
        reverted = [a.asset_id for p in found.run.phases for a in p.assets if a.status == "rolled_back"]
        failed = [{"asset_id": a.asset_id, "error": a.error} for p in found.run.phases for a in p.assets if a.status == "failed"]
        if reverted:
            lines.append(("Reverted", _listed(reverted)))
        for item in failed[:_LISTED]:
            lines.append(("Failed", f"{item['asset_id']}: {item['error'] or 'no error recorded'}"))
        context.update(reverted_assets=reverted, failed_assets=failed)
        if event.state != "completed":
            index = found.run.progress.current_phase
            if found.run.started_at is not None and 0 <= index < len(found.run.phases):
                context["phase"] = {"index": index, "name": found.run.phases[index].name}
    if event.state != "completed":
        lines.append(("Next", "check the reason above; the audit trail below has every step"))
    return _Draft(event.state, severity, headline, lines, context)  # type: ignore[arg-type]


def _task_planned(event: TaskPlanned, found: _Found) -> _Draft:
    lines = _plan_lines(found)
    if event.risk_level:
        lines.append(("Risk", event.risk_level))
    lines.append(("Next", "waits for an approver" if event.requires_approval else "no approval needed"))
    return _Draft("planned", "info", "Plan ready", lines)


def _task_failed(event: TaskFailed, found: _Found) -> _Draft:
    lines = _plan_lines(found)
    lines.append(("Reason", event.reason))
    lines += [("Error", error) for error in event.errors[:_LISTED]]
    lines.append(("Next", "nothing was planned or changed; rephrase the ask or check the errors above"))
    return _Draft("planning_failed", "critical", "Planning FAILED", lines)


def _approval_expired(event: ApprovalExpired, found: _Found) -> _Draft:
    lines = _plan_lines(found, with_approval=False)
    waited = format_duration(event.ttl_seconds)
    if event.renotify:
        lines.append(("Waiting", f"more than {waited}; approvers were reminded"))
        return _Draft("approval_reminder", "warning", "Approval still needed", lines)
    lines.append(("Expired", f"no decision within {waited}; the plan was rejected"))
    return _Draft("approval_expired", "warning", "Approval expired", lines)


def _run_paused(event: RunPaused, found: _Found) -> _Draft:
    lines = _plan_lines(found)
    lines.append(("Paused", f"by {event.actor} after {event.phases_completed}/{event.total_phases} phases"))
    if event.reason:
        lines.append(("Reason", event.reason))
    lines.append(("Next", "a person must resume or abort the run"))
    return _Draft("paused", "warning", "Run paused", lines)


def _run_resumed(event: RunResumed, found: _Found) -> _Draft:
    lines = _plan_lines(found)
    lines.append(("Resumed", f"by {event.actor} after {event.phases_completed}/{event.total_phases} phases"))
    return _Draft("resumed", "info", "Run resumed", lines)


def _plan_superseded(event: PlanSuperseded, found: _Found) -> _Draft:
    lines = _plan_lines(found, with_approval=False)
    lines.append(("Replaced by", event.superseded_by))
    return _Draft("superseded", "info", "Plan superseded", lines)


def _vote_recorded(event: VoteRecorded, found: _Found) -> _Draft:
    lines = _plan_lines(found, with_approval=False)
    lines.append(("Vote", f"{event.decision} by {event.actor} ({event.votes}/{event.required})"))
    return _Draft("vote", "info", "Vote recorded", lines)


def _freeze_changed(event: FreezeChanged, found: _Found) -> _Draft:
    frozen = event.reason is not None
    lines = [("Environment", event.environment), ("By", event.actor)]
    if frozen:
        lines.append(("Reason", event.reason or ""))
    headline = f"{event.environment} {'FROZEN' if frozen else 'unfrozen'}"
    return _Draft("frozen" if frozen else "unfrozen", "warning" if frozen else "info", headline, lines)


_DESCRIBERS: dict[type[Event], Any] = {
    TaskPlanned: _task_planned,
    TaskFailed: _task_failed,
    ApprovalExpired: _approval_expired,
    RunPaused: _run_paused,
    RunResumed: _run_resumed,
    PlanSuperseded: _plan_superseded,
    VoteRecorded: _vote_recorded,
    FreezeChanged: _freeze_changed,
    TaskCreated: _task_created,
    PlanProposed: _plan_proposed,
    PlanDecided: _plan_decided,
    RunStarted: _run_started,
    PhaseStarted: _phase_started,
    PhaseCompleted: _phase_completed,
    RunFinished: _run_finished,
}


# -- text ------------------------------------------------------------------------------------


def _plan_lines(found: _Found, *, with_approval: bool = True) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    if found.task is not None:
        by = f" (requested by {found.task.created_by})" if found.task.created_by else ""
        lines.append(("Ask", f'"{found.task.user_intent}"{by}'))
    plan = found.plan
    if plan is not None:
        lines.append(("Plan", f"{plan.type.replace('_', ' ')}: {plan.payload.summary}"))
        lines.append(("Environment", plan.environment or "not set"))
        if plan.payload.affected_assets:
            lines.append(("Affected", f"{len(plan.payload.affected_assets)} assets"))
        if with_approval and plan.approval is not None:
            when = plan.approval.decided_at.strftime("%Y-%m-%d %H:%M UTC")
            lines.append(
                ("Approved by" if plan.approval.decision == "approved" else "Decided by", f"{plan.approval.decided_by} at {when}")
            )
    return lines


def _failed_phase(event: RunFinished, run: Run | None) -> str:
    if run is not None and run.started_at is None:
        return "none: the run stopped before its first phase"
    if run is not None and 0 <= run.progress.current_phase < len(run.phases):
        index = run.progress.current_phase
        return f"{index + 1}/{event.total_phases} {run.phases[index].name} (stopped here)"
    return f"after {event.phases_completed} of {event.total_phases} phases"


def _body(draft: _Draft, found: _Found, ids: dict[str, str | None]) -> str:
    width = max((len(label) for label, _ in draft.lines), default=0) + 1
    where = f" in {found.plan.environment}" if found.plan is not None and found.plan.environment else ""
    out = [f"{draft.headline}{where}.", ""]
    out += [f"{(label + ':').ljust(width)} {value}" for label, value in draft.lines]
    out.append("")
    out += [f"{k.removesuffix('_id').capitalize()} id: {v}" for k, v in ids.items() if v]
    if ids.get("task_id"):
        out += ["", f"Audit trail: opspilot audit {ids['task_id']}"]
    return "\n".join(out) + "\n"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
