"""Block Kit rendering of plans, reports and the App Home, built with ``slack_sdk.models.blocks``.

Limits respected here so Slack never refuses a card: 50 blocks, 3000 characters per section
text, 10 fields per section, 150 characters per header.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import messages
from core.approvals import Ballot
from core.approvals.authorizer import expired
from core.domain import Plan, Run, Task
from core.domain.plan import Phase
from core.read_models import HomeView
from core.replay import Replay
from core.timeutil import format_duration

APPROVE_ACTION = "plan_approve"
REJECT_ACTION = "plan_reject"
PAUSE_ACTION = "run_pause"
RESUME_ACTION = "run_resume"
ABORT_ACTION = "run_abort"
CHOICE_ACTION = "ask_choice"  # "did you mean" buttons: ask_choice:0, ask_choice:1, ... (action ids are unique per block)
BUTTON_VALUE_LIMIT = 2000
SECTION_LIMIT = 3000
MAX_PHASE_LINES = 12
MAX_TOP_TASKS = 3
MAX_DIFF_LINES = 14


DECISION_BLOCK = "plan_decision"
# A queued run shows as running: it starts within moments, and the card then needs no rewrite when it does.
ACTIVE_RUN_STATES = ("queued", "executing")
SHORT_HASH = 12


def seen_version(block_id: object) -> str | None:
    """The short plan hash a decision button was shown with (``plan_decision:<hash>``), or None."""
    if isinstance(block_id, str) and block_id.startswith(DECISION_BLOCK + ":"):
        return block_id.split(":", 1)[1] or None
    return None


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=_clip(text))


@dataclass(frozen=True)
class Card:
    text: str
    blocks: list[dict]


def _phase_line(number: int, phase: Phase) -> str:
    count = len(phase.assets)
    shown = ", ".join(phase.assets[:3]) + (f" +{count - 3}" if count > 3 else "")
    parts = [f"{number}. *{phase.name}*: {count} asset{'s' if count != 1 else ''} ({shown})"]
    if phase.wait_time:
        parts.append(f"wait {phase.wait_time}")
    if phase.health_checks:
        parts.append("checks " + ", ".join(c.type for c in phase.health_checks))
    if phase.rollback_if:
        parts.append(f"rollback if `{phase.rollback_if}`")
    return " · ".join(parts)


def _phases_text(phases: Sequence[Phase]) -> str:
    lines = [_phase_line(i + 1, p) for i, p in enumerate(phases[:MAX_PHASE_LINES])]
    if len(phases) > MAX_PHASE_LINES:
        rest = phases[MAX_PHASE_LINES:]
        lines.append(f"…and {len(rest)} more phases ({sum(len(p.assets) for p in rest)} assets)")
    return "*Phases*\n" + "\n".join(lines)


def _validation_blocks(plan: Plan) -> list[Block]:
    validation = plan.validation
    if validation is None:
        return []
    lines = []
    for check in validation.checks:
        icon = ":no_entry_sign:" if check.disabled else ":white_check_mark:" if check.passed else ":x:"
        detail = "" if not check.messages else "\n" + "\n".join(f"    • {m}" for m in check.messages[:5])
        lines.append(f"{icon} {check.name}{detail}")
    blocks: list[Block] = [SectionBlock(text=_md("*Checks*\n" + "\n".join(lines)))] if lines else []
    quality = plan.quality
    if quality is not None:
        envs = ", ".join(quality.allowed_environments) or "none"
        blocks.append(
            SectionBlock(
                text=_md(
                    f"*Quality score {quality.total}/100* · structural {quality.structural} · policy {quality.policy_compliance} · "
                    f"tested lower {quality.test_coverage} · history {quality.operational_history} · reviews {quality.human_review}\n"
                    f"May run in: {envs}" + (" · approval required" if quality.requires_approval else " · no approval required")
                )
            )
        )
    return blocks


def _findings_text(plan: Plan) -> str | None:
    findings = plan.payload.findings
    if not findings:
        return None
    icons = {
        "critical": ":red_circle:",
        "high": ":red_circle:",
        "medium": ":warning:",
        "low": ":information_source:",
        "info": ":information_source:",
    }
    lines = []
    for finding in findings[:10]:
        line = f"{icons.get(finding.severity or 'info', ':information_source:')} *{finding.title}*"
        if finding.detail:
            line += f": {finding.detail}"
        if finding.recommendation:
            line += f"\n    → {finding.recommendation}"
        lines.append(line)
    if len(findings) > 10:
        lines.append(f"…and {len(findings) - 10} more findings")
    return "*Findings*\n" + "\n".join(lines)


def _steps_text(plan: Plan) -> str | None:
    steps = plan.payload.steps
    if not steps:
        return None
    lines = []
    for number, step in enumerate(steps[:15], start=1):
        line = f"{number}. *{step.name}*"
        if step.command:
            line += f" `{step.command}`"
        if step.requires_confirmation:
            line += " (confirm first)"
        lines.append(line)
    if len(steps) > 15:
        lines.append(f"…and {len(steps) - 15} more steps")
    return "*Steps*\n" + "\n".join(lines)


def _dry_run_blocks(plan: Plan) -> list[Block]:
    """An Ansible plan's check-mode run: hosts that would change, the top tasks, a few diff lines, the hosts left out.

    Only what the plan holds is shown: changed task names and diff lines (no_log results carry neither)."""
    dry_run = plan.payload.dry_run
    if dry_run is None:
        return []
    heading = messages.dry_run_heading(dry_run.playbook, dry_run.hosts_changed, dry_run.diff_hash)
    blocks: list[Block] = [SectionBlock(text=_md(heading))]
    ansible_changes = [c for c in plan.payload.changes if c.action == "ansible_playbook" and c.details]
    counts = Counter(task for c in ansible_changes for task in dict.fromkeys(_strings(c.details, "changed_tasks")))
    if counts:
        blocks.append(SectionBlock(text=_md(messages.dry_run_top_tasks(counts.most_common(MAX_TOP_TASKS)))))
    lines: list[str] = []
    for change in ansible_changes:
        diff = _strings(change.details, "diff")
        if diff:
            lines += [f"## {change.asset_id}", *diff]
        if len(lines) >= MAX_DIFF_LINES:
            break
    if lines:
        blocks.append(SectionBlock(text=_md(messages.dry_run_diff(lines[:MAX_DIFF_LINES]))))
    if dry_run.hosts_failed:
        unchecked: list[tuple[str, str, str]] = [(h.host, h.status, h.message) for h in dry_run.hosts_failed]
        blocks.append(SectionBlock(text=_md(messages.dry_run_unchecked(unchecked))))
    return blocks


def _strings(details: dict | None, key: str) -> list[str]:
    value = (details or {}).get(key)
    return [str(item) for item in value] if isinstance(value, list) else []


def plan_card(
    task: Task,
    plan: Plan,
    *,
    decision_line: str | None = None,
    run: Run | None = None,
    note: str | None = None,
    ballot: Ballot | None = None,
    frozen: str | None = None,
    stored: bool = True,
) -> Card:
    """The card for a plan in whatever state it is in; re-rendered after every change. ``frozen``: the line saying
    the plan's environment is frozen (messages.frozen_line). ``stored`` False: a dry run's plan, whose id names
    nothing and is left out of the footer."""
    title = messages.TITLES.get(plan.type, ":memo: Plan")
    payload = plan.payload
    if plan.is_report:
        # A report has no plan machinery (phases, checks, approval): bot/report_blocks.py.
        from bot.report_blocks import report_card

        report = report_card(task, plan, note=note, footer=_footer(task, plan, stored), frozen=frozen)
        return Card(text=messages.fallback_text(title, payload.summary), blocks=[b.to_dict() for b in report[:50]])
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_clip(title, 150), emoji=True)),
        SectionBlock(text=_md(payload.summary)),
        SectionBlock(
            fields=[
                _md(f"*Environment*\n{plan.environment or 'n/a'}"),
                _md(f"*Risk*\n{task.task_spec.risk_level if task.task_spec else 'n/a'}"),
                _md(f"*Affected assets*\n{len(payload.affected_assets)}"),
                _md(f"*Phases*\n{len(payload.phases)}"),
                _md(f"*Estimated duration*\n{payload.estimated_duration or 'n/a'}"),
                _md(f"*Requested by*\n<@{task.created_by}>" if task.created_by else "*Requested by*\nn/a"),
            ]
        ),
    ]
    if payload.risk_assessment:
        blocks.append(ContextBlock(elements=[_md(f"Risk assessment: {payload.risk_assessment}")]))
    blocks += _dry_run_blocks(plan)
    for extra in (_findings_text(plan), _steps_text(plan)):
        if extra:
            blocks.append(SectionBlock(text=_md(extra)))
    if payload.phases:
        blocks += [DividerBlock(), SectionBlock(text=_md(_phases_text(payload.phases)))]
    blocks += [DividerBlock(), *_validation_blocks(plan)]
    if note:
        blocks.append(ContextBlock(elements=[_md(f":warning: {note}")]))
    if frozen:
        blocks.append(SectionBlock(text=_md(frozen)))
    if plan.state == "superseded" and decision_line is None:
        decision_line = messages.superseded_line(plan.status.reason)
    if expired(plan) and plan.approval is not None:
        decision_line = messages.expired_line(plan.approval.decided_at.strftime("%Y-%m-%d %H:%M UTC"))

    if decision_line:
        blocks.append(SectionBlock(text=_md(decision_line)))
    if run is not None:
        if run.state in ACTIVE_RUN_STATES:
            # No live counts on the card: they are in the thread's progress message, so the card is rewritten only
            # when what it offers changes (started, paused, resumed, ended), never per phase.
            line = messages.run_active_line(run.progress.total_phases)
        else:
            line = messages.run_status_line(
                run.state, run.metrics.assets_changed, run.progress.phases_completed, run.progress.total_phases
            )
        blocks.append(SectionBlock(text=_md(line)))
        if run.state in (*ACTIVE_RUN_STATES, "paused"):
            blocks.append(ActionsBlock(block_id="run_control", elements=_run_buttons(run)))

    if plan.state == "awaiting_approval" and decision_line is None:
        if ballot is not None:
            line = messages.approval_line(ballot.who, ballot.votes, ballot.required, ballot.plan_hash)
            if ballot.expires_at is not None:
                line += " · " + messages.time_left(ballot.expires_at)
            blocks.append(ContextBlock(elements=[_md(line)]))
            if ballot.eligible is not None and ballot.eligible < ballot.required:
                blocks.append(SectionBlock(text=_md(messages.quorum_unreachable(ballot.eligible, ballot.required))))
        # The version the approver sees rides with the click: a vote is refused if the plan changed since.
        version = f"{DECISION_BLOCK}:{ballot.plan_hash[:SHORT_HASH]}" if ballot is not None else DECISION_BLOCK
        blocks.append(ActionsBlock(block_id=version, elements=_decision_buttons(plan)))
    elif plan.state == "draft" and plan.validation is not None and not plan.validation.overall_valid:
        blocks.append(SectionBlock(text=_md(messages.invalid_plan(plan.validation.errors))))

    blocks.append(ContextBlock(elements=[_md(_footer(task, plan, stored))]))
    return Card(text=messages.fallback_text(title, payload.summary), blocks=[b.to_dict() for b in blocks[:50]])


def _decision_buttons(plan: Plan) -> list[ButtonElement]:
    confirm = None
    if plan.environment in ("production", "all"):
        confirm = ConfirmObject(
            title="Approve production change?",
            text=f"{len(plan.payload.affected_assets)} production assets will change, phase by phase.",
            confirm="Approve",
            deny="Cancel",
        )
    return [
        ButtonElement(text=messages.APPROVE, action_id=APPROVE_ACTION, value=plan.id, style="primary", confirm=confirm),
        ButtonElement(text=messages.REJECT, action_id=REJECT_ACTION, value=plan.id, style="danger"),
    ]


def _run_buttons(run: Run) -> list[ButtonElement]:
    toggle = (
        ButtonElement(text=messages.RESUME, action_id=RESUME_ACTION, value=run.id, style="primary")
        if run.state == "paused"
        else ButtonElement(text=messages.PAUSE, action_id=PAUSE_ACTION, value=run.id)
    )
    abort = ButtonElement(
        text=messages.ABORT,
        action_id=ABORT_ACTION,
        value=run.id,
        style="danger",
        confirm=ConfirmObject(title="Abort and roll back?", text=messages.abort_confirm(), confirm="Abort", deny="Keep running"),
    )
    return [toggle, abort]


def _footer(task: Task, plan: Plan, stored: bool = True) -> str:
    parts = [f"Plan `{plan.id[:8]}`" if stored else messages.DRY_RUN_FOOTER, f"agent {plan.agent or 'n/a'}"]
    if plan.approval is not None and plan.approval.plan_hash:
        parts.append(f"approved version `{plan.approval.plan_hash[:12]}`")
    usage = task.usage
    if usage is not None:
        if usage.provider == "offline":
            parts.append("planner: offline intent model")
        else:
            parts.append(
                f"planner: {usage.model or usage.provider} · {usage.input_tokens} in / {usage.output_tokens} out tokens"
                f" · cache {usage.cache_read_tokens} read / {usage.cache_write_tokens} written · ~${usage.cost_usd:.4f}"
            )
    return " · ".join(parts)


REJECT_VIEW = "plan_reject_modal"
REASON_BLOCK = "reason"
REASON_ACTION = "reason_input"


def reject_modal(plan: Plan, channel_id: str | None) -> dict:
    """Asked before a rejection, so the requester learns why."""
    return {
        "type": "modal",
        "callback_id": REJECT_VIEW,
        "private_metadata": json.dumps({"plan_id": plan.id, "channel_id": channel_id}),
        "title": {"type": "plain_text", "text": "Reject plan"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            SectionBlock(text=_md(f"*{_clip(plan.payload.summary, 500)}*")).to_dict(),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Why? (shown on the card)"},
                "element": {"type": "plain_text_input", "action_id": REASON_ACTION, "multiline": True, "max_length": 500},
            },
        ],
    }


MAX_FAILED_LINES = 10


def run_status_card(replay: Replay) -> Card:
    """`/ops status RUN_ID`: state, phases, assets by status, duration and up to 10 failed assets with their errors.
    Driver text is escaped and clipped, so it can neither break the blocks nor notify anyone."""
    run, stats = replay.run, replay.stats
    duration = format_duration(run.duration_seconds) if run.duration_seconds is not None else "n/a"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_clip(messages.status_title(run.id, run.state), 150), emoji=True)),
        SectionBlock(
            fields=[
                _md(f"*State*\n{messages.STATE_WORDS.get(run.state, run.state)}"),
                _md(f"*Phases*\n{stats.phases_completed}/{stats.total_phases} done"),
                _md(f"*Duration*\n{duration}"),
                _md(f"*Environment*\n{run.environment}"),
                _md(f"*Assets* ({stats.assets + stats.steps})\n{messages.status_counts(stats.by_status)}"),
            ]
        ),
    ]
    if run.reason:
        blocks.append(SectionBlock(text=_md(f"*Reason*\n{messages.escape(run.reason, 1000)}")))
    if stats.failed_assets:
        shown = stats.failed_assets[:MAX_FAILED_LINES]
        lines = [messages.status_failed_line(f.id, f.phase, f.error) for f in shown]
        if len(stats.failed_assets) > len(shown):
            lines.append(f"…and {len(stats.failed_assets) - len(shown)} more")
        blocks.append(SectionBlock(text=_md(f"*Failed* ({len(stats.failed_assets)})\n" + "\n".join(lines))))
    blocks.append(ContextBlock(elements=[_md(messages.status_footer(run.id))]))
    text = messages.status_fallback(run.id, run.state, stats.phases_completed, stats.total_phases, duration)
    return Card(text=text, blocks=[b.to_dict() for b in blocks])


def choice_value(agent: str, text: str) -> str:
    """What a "did you mean" button carries: the agent picked and the ask as typed (clipped to Slack's 2,000)."""
    value = json.dumps({"agent": agent, "text": text})
    while len(value) > BUTTON_VALUE_LIMIT:
        text = text[: len(text) - (len(value) - BUTTON_VALUE_LIMIT) - 1]
        value = json.dumps({"agent": agent, "text": text})
    return value


def read_choice(value: object) -> tuple[str, str] | None:
    """(agent, ask text) from a button's value, or None when it is not one of ours."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("agent"), str) or not isinstance(data.get("text"), str):
        return None
    return data["agent"], data["text"]


def choices_card(choices: Sequence[dict[str, str]]) -> Card:
    """An unclear ask: one button per likely reading; clicking one goes on as if the ask had said it."""
    labels = [str(c.get("label") or c.get("agent")) for c in choices]
    buttons = [
        ButtonElement(
            text=_clip(label, 75), action_id=f"{CHOICE_ACTION}:{i}", value=choice_value(str(c["agent"]), str(c.get("text") or ""))
        )
        for i, (c, label) in enumerate(zip(choices[:5], labels, strict=False))
    ]
    blocks: list[Block] = [
        SectionBlock(text=_md(messages.did_you_mean())),
        ActionsBlock(block_id="ask_choices", elements=buttons),
        ContextBlock(elements=[_md(messages.did_you_mean_hint())]),
    ]
    return Card(text=messages.did_you_mean_text(labels), blocks=[b.to_dict() for b in blocks])


def text_card(text: str) -> list[dict]:
    return [SectionBlock(text=_md(text)).to_dict()]


MAX_HOME_WAITING = 10  # each takes two blocks; a home view holds 100


def home_view(view: HomeView, examples: Sequence[str], notice: str | None = None) -> dict:
    """One viewer's App Home: plans waiting for them (with Approve / Reject, as on the card), their requests and
    their runs. Nothing of other people's that the viewer may not act on."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="OpsPilot", emoji=True))]
    if notice:
        blocks.append(SectionBlock(text=_md(notice)))
    blocks.append(SectionBlock(text=_md(f"*Waiting for you* ({len(view.waiting)})")))
    if not view.waiting:
        blocks.append(ContextBlock(elements=[_md("Nothing waits for your approval.")]))
    for item in view.waiting[:MAX_HOME_WAITING]:
        plan, task = item.plan, item.task
        risk = task.task_spec.risk_level if task.task_spec else None
        line = messages.waiting_line(
            plan.payload.summary, plan.environment, task.created_by, len(item.votes), item.required, plan.id, item.card
        )
        blocks.append(SectionBlock(text=_md(f"{line}\nRisk {risk or 'n/a'} · needs {item.needs}")))
        blocks.append(ActionsBlock(block_id=f"home_decision:{plan.id}", elements=_decision_buttons(plan)))
    if len(view.waiting) > MAX_HOME_WAITING:
        blocks.append(ContextBlock(elements=[_md(f"…and {len(view.waiting) - MAX_HOME_WAITING} more: `/ops approvals`")]))

    blocks += [DividerBlock(), SectionBlock(text=_md("*Your requests*"))]
    if not view.requests:
        blocks.append(ContextBlock(elements=[_md("No asks yet. Try one of the examples below in any channel.")]))
    for row in view.requests:
        state = row.plan.state.replace("_", " ") if row.plan else row.task.status.state.replace("_", " ")
        ids = f"task `{row.task.id[:8]}`" + (f" · plan `{row.plan.id[:8]}`" if row.plan else "")
        blocks.append(SectionBlock(text=_md(f"*{messages.escape(row.task.user_intent, 150)}*\n{state} · {ids}")))

    blocks += [DividerBlock(), SectionBlock(text=_md("*Your runs*"))]
    if not view.runs:
        blocks.append(ContextBlock(elements=[_md("No runs you started, controlled or asked for.")]))
    for run_row in view.runs:
        run = run_row.run
        status = messages.run_status_line(
            run.state, run.metrics.assets_changed, run.progress.phases_completed, run.progress.total_phases
        )
        blocks.append(SectionBlock(text=_md(f"{status}\n{messages.escape(run_row.summary, 150)} · run `{run.id[:8]}`")))

    blocks += [DividerBlock(), SectionBlock(text=_md(messages.usage(examples)))]
    return {"type": "home", "blocks": [b.to_dict() for b in blocks[:100]]}
