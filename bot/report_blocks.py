"""Block Kit for a report (incident, cost, compliance, security): what was looked at and what was found.

No plan machinery: no phases, duration, checks, quality score or approval. The findings are grouped by severity
(critical first) with their evidence; a finding whose change an agent can plan has a button that asks for it
(``report_act:<n>``, value: the plan id, the finding's index and fingerprint). Slack's limits hold: at most 50 blocks
(findings beyond the budget are counted in one "…and N more" line), 3,000 characters per section.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import messages
from core.domain import Plan, Task
from core.domain.plan import Finding, Severity
from core.report_actions import finding_fingerprint

REPORT_ACT_ACTION = "report_act"  # report_act:0, report_act:1, ... (one per finding with an action)
MAX_BLOCKS = 50
SECTION_LIMIT = 3000
SEVERITY_ORDER: tuple[Severity | None, ...] = ("critical", "high", "medium", "low", "info", None)
MAX_EVIDENCE_LINES = 3


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…")


def act_value(plan_id: str, index: int, finding: Finding) -> str:
    return json.dumps({"plan": plan_id, "finding": index, "seen": finding_fingerprint(finding)}, separators=(",", ":"))


def read_act_value(value: object) -> tuple[str, int, str | None] | None:
    """(plan id, finding index, fingerprint) from a report button's value, or None when it is not one of ours."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("plan"), str) or type(data.get("finding")) is not int:
        return None
    seen = data.get("seen")
    return data["plan"], data["finding"], seen if isinstance(seen, str) else None


def _finding_block(plan: Plan, index: int, finding: Finding, buttons: bool) -> SectionBlock:
    evidence = list(finding.evidence or [])
    text = messages.report_finding(
        finding.title,
        finding.detail,
        evidence[:MAX_EVIDENCE_LINES],
        max(0, len(evidence) - MAX_EVIDENCE_LINES),
        finding.recommendation,
    )
    accessory = None
    if buttons and finding.action is not None:
        accessory = ButtonElement(
            text=messages.report_action_label(finding.action.kind, finding.action.label),
            action_id=f"{REPORT_ACT_ACTION}:{index}",
            value=act_value(plan.id, index, finding),
        )
    return SectionBlock(text=_md(text), accessory=accessory)


def _counts(findings: Sequence[Finding]) -> list[tuple[str, int]]:
    counted = Counter(f.severity for f in findings)
    return [(severity or "unrated", counted[severity]) for severity in SEVERITY_ORDER if counted[severity]]


def report_card(task: Task, plan: Plan, *, note: str | None = None, footer: str = "", frozen: str | None = None) -> list[Block]:
    """The blocks of a report card. ``footer``: the plan's footer line (plan id, agent, planner)."""
    title = messages.TITLES.get(plan.type, ":memo: Report")
    payload, scope = plan.payload, plan.payload.report
    findings = payload.findings
    valid = plan.validation is None or plan.validation.overall_valid
    buttons = valid and plan.state != "superseded"
    head: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=title[:150], emoji=True)),
        SectionBlock(text=_md(payload.summary)),
        SectionBlock(
            fields=[
                _md(f"*Environment*\n{plan.environment or 'n/a'}"),
                _md(f"*Time window*\n{messages.report_window(scope.window_start, scope.window_end) if scope else 'n/a'}"),
                _md(f"*Findings* ({len(findings)})\n{messages.report_counts(_counts(findings))}"),
                _md(f"*Requested by*\n<@{task.created_by}>" if task.created_by else "*Requested by*\nn/a"),
            ]
        ),
    ]
    if scope is not None and scope.sources:
        head.append(ContextBlock(elements=[_md(messages.report_sources(scope.sources))]))
    tail: list[Block] = []
    if note:
        tail.append(ContextBlock(elements=[_md(f":warning: {note}")]))
    if frozen:
        tail.append(SectionBlock(text=_md(frozen)))
    if plan.state == "superseded":
        tail.append(SectionBlock(text=_md(messages.superseded_line(plan.status.reason))))
    elif not valid and plan.validation is not None:
        tail.append(SectionBlock(text=_md(messages.invalid_plan(plan.validation.errors))))
    actionable = buttons and any(f.action is not None for f in findings)
    tail.append(ContextBlock(elements=[_md(messages.report_note(actionable))]))
    if footer:
        tail.append(ContextBlock(elements=[_md(footer)]))

    budget = MAX_BLOCKS - len(head) - len(tail) - 2  # a divider, and the "…and N more" line
    body: list[Block] = []
    left: list[Finding] = []
    order = sorted(range(len(findings)), key=lambda i: SEVERITY_ORDER.index(findings[i].severity))
    by_severity: dict[Severity | None, list[int]] = {}
    for i in order:
        by_severity.setdefault(findings[i].severity, []).append(i)
    for severity, indexes in by_severity.items():
        if budget < 2:  # a group needs its heading and one finding
            left += [findings[i] for i in indexes]
            continue
        body.append(SectionBlock(text=_md(messages.report_group(severity, len(indexes)))))
        budget -= 1
        for i in indexes:
            if budget < 1:
                left.append(findings[i])
                continue
            body.append(_finding_block(plan, i, findings[i], buttons))
            budget -= 1
    if left:
        body.append(ContextBlock(elements=[_md(messages.report_more_findings(_counts(left)))]))
    return [*head, DividerBlock(), *body, *tail]
