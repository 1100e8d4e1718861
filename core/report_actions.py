"""Acting on a report's finding: the finding's change becomes an ask, recorded like a typed one.

A report (``payload.report_only``) plans nothing itself; a finding whose change an agent can plan carries a
:class:`~core.domain.plan.FindingAction` (a patch, a drift fix, an image rollout, an SOP step). :func:`act_on_finding`
checks the report and the finding and records the action's ask in the ask queue, so a worker plans it and it is
validated and sent for approval like any other ask (the requesters rules apply when it is read, as for a typed ask).
The ask is pinned to the agent of the action's kind, so its reading never depends on the intent model's confidence,
and its origin names the report (``from_report``, ``finding``). Nothing is recorded for a bad click.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from core.domain.plan import ActionKind, Finding
from core.errors import NotFound
from core.intake import Ask
from core.intake.keys import IntakeKey

if TYPE_CHECKING:
    from core.service import OpsPilot

logger = logging.getLogger(__name__)

# The agent that plans each kind of action.
ACTION_AGENTS: dict[ActionKind, str] = {
    "patch": "patch_agent",
    "drift_fix": "drift_agent",
    "image_rollout": "image_agent",
    "sop_step": "sop_agent",
}
# A report whose drift fixes another agent plans: a compliance control's configuration drift is remediated by the
# compliance agent itself (remediate_controls changes), not by the image drift agent.
REPORT_AGENTS: dict[tuple[str, ActionKind], str] = {("compliance_report", "drift_fix"): "compliance_agent"}

ActStatus = Literal["recorded", "seen", "not_found", "not_a_report", "stale", "out_of_range", "no_action"]


@dataclass(frozen=True)
class FindingActOutcome:
    status: ActStatus
    message: str
    ask_id: str | None = None
    ask: str | None = None
    finding: Finding | None = None

    @property
    def recorded(self) -> bool:
        return self.status == "recorded"


def agent_for(plan_type: str, kind: ActionKind) -> str:
    return REPORT_AGENTS.get((plan_type, kind), ACTION_AGENTS[kind])


def finding_fingerprint(finding: Finding) -> str:
    """A short digest of what a finding asks for: a button shown with it is refused if the finding changed since."""
    action = finding.action
    text = "\n".join([finding.title, action.kind if action else "", action.ask if action else ""])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


async def act_on_finding(
    service: OpsPilot,
    plan_id: str,
    index: int,
    actor: str,
    origin: dict[str, Any],
    *,
    channel_id: str | None = None,
    key: IntakeKey | None = None,
    reply: dict[str, Any] | None = None,
    org: str | None = None,
    seen: str | None = None,
) -> FindingActOutcome:
    """Record the ask of finding ``index`` (0-based) of report ``plan_id`` on behalf of ``actor``.

    ``origin``: where the ask came from (front, channel, user...), as for a typed ask; ``from_report`` and ``finding``
    are added. ``key``: the delivery's intake key when the front has not claimed it (a retry records nothing).
    ``seen``: the :func:`finding_fingerprint` the button was shown with; a finding that changed since is refused."""
    try:
        plan = await service.get_plan(plan_id, org=org)
    except NotFound:
        return FindingActOutcome("not_found", "That report is gone.")
    if not plan.is_report:
        return FindingActOutcome("not_a_report", "That plan is not a report; its findings are not acted on one by one.")
    if plan.state == "superseded":
        return FindingActOutcome("stale", "That report was replaced by a newer one; act on the newer report's findings.")
    findings = plan.payload.findings
    if not 0 <= index < len(findings):
        return FindingActOutcome("out_of_range", f"The report has {len(findings)} findings; there is no finding {index + 1}.")
    finding = findings[index]
    if seen is not None and seen != finding_fingerprint(finding):
        return FindingActOutcome("stale", "That button no longer matches the report's finding; nothing was asked.")
    action = finding.action
    if action is None:
        return FindingActOutcome("no_action", f"Nothing OpsPilot can plan acts on “{finding.title}”.", finding=finding)
    ask = Ask.from_front(
        action.ask,
        actor,
        channel_id,
        agent=agent_for(plan.type, action.kind),
        **{**origin, "from_report": plan.id, "finding": index, "action": action.kind},
    )
    front = str(origin.get("front") or "report")
    ask_id = await service.asks.record(ask, front=front, key=key, reply=reply)
    if ask_id is None:
        return FindingActOutcome("seen", "Already asked.", ask=action.ask, finding=finding)
    details = {"finding": index, "title": finding.title[:200], "kind": action.kind, "ask": action.ask, "ask_id": ask_id}
    await service.store.append_audit("plan", plan.id, "report.finding_acted", actor, details)
    logger.info("finding %d of report %s became ask %s (%s)", index, plan.id, ask_id, action.kind)
    return FindingActOutcome("recorded", action.ask, ask_id=ask_id, ask=action.ask, finding=finding)
