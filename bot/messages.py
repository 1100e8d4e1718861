"""Every piece of text OpsPilot shows in Slack, in one place.

Kept as plain functions and constants so wording changes never touch listener logic, and tests
can assert on the same strings people see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from core.timeutil import format_duration, utcnow

BOT_NAME = "OpsPilot"

TITLES = {
    "drift_plan": ":wrench: Drift remediation plan",
    "patch_plan": ":package: Patch rollout plan",
    "compliance_report": ":shield: Compliance report",
    "incident_report": ":rotating_light: Incident report",
    "dr_runbook": ":arrows_counterclockwise: DR drill runbook",
    "cost_report": ":moneybag: Cost report",
    "security_report": ":lock: Security report",
    "image_plan": ":package: Golden image plan",
    "sop": ":scroll: Standard operating procedure",
    "adapter_plan": ":electric_plug: API adapter plan",
}

APPROVE = "Approve"
REJECT = "Reject"
PAUSE = "Pause"
RESUME = "Resume"
ABORT = "Abort"


def usage(examples: Iterable[str], abilities: Sequence[tuple[str, str]] = ()) -> str:
    """``abilities``: (title, one-line description) of each agent in the live registry."""
    lines = [
        f"*{BOT_NAME}* turns an ask into a reviewed, phased plan. Approvers decide; nothing runs before that.",
        "",
        "*Ask for something:*",
        *(f"• `/ops {e}`" for e in examples),
    ]
    if abilities:
        lines += ["", "*What I can do:*", *(f"• *{escape(t, 80)}*: {escape(d, 200)}" for t, d in abilities)]
    lines += [
        "",
        "*Also:* `/ops help` · `/ops agents` · `/ops tools` · `/ops dry-run ASK` (the plan, privately; nothing is"
        " stored or started) · `/ops status` (this channel's latest run) · `/ops status RUN_ID` · `/ops runs`"
        " (recent runs) · `/ops inventory refresh`"
        " · `/ops approvals` (what waits for you) · `/ops audit ID` (who did what, for a task, plan or run)"
        " · `/ops freeze ENV REASON` / `/ops unfreeze ENV` (approvers of the environment's rule, or admins)"
        " · or mention me: `@OpsPilot fix drift on prod web servers`",
    ]
    return "\n".join(lines)


def working_on(text: str) -> str:
    return f":hourglass_flowing_sand: Working on _{_clip(text, 200)}_ …"


def cannot_map(reason: str, examples: Iterable[str]) -> str:
    return f":information_source: {reason}\n\n" + usage(examples)


def did_you_mean() -> str:
    return ":thinking_face: I'm not sure what you mean. Did you mean:"


def did_you_mean_hint() -> str:
    return "Or ask again in other words; `/ops help` lists asks that work. Nothing was created."


def did_you_mean_text(labels: Sequence[str]) -> str:
    return "I'm not sure what you mean. Did you mean: " + " / ".join(labels)


def chose(label: str) -> str:
    return f":hourglass_flowing_sand: {_clip(label, 200)} Working on it …"


def no_change(message: str) -> str:
    return f":white_check_mark: {message}"


def planning_failed(message: str) -> str:
    return f":x: {message}"


def post_failed(error: str) -> str:
    hint = " Invite me first: `/invite @OpsPilot`." if error in ("not_in_channel", "channel_not_found") else ""
    return f":warning: I made the plan but could not post it in this channel ({error}).{hint}"


# A refused vote or run control, by the authorizer's code (core.approvals.authorizer); the detail says why.
REFUSALS: dict[str, str] = {
    "not_approver": ":no_entry: You are not allowed to approve or reject this plan.",
    "self_approval": ":no_entry: You cannot approve your own request.",
    "already_voted": ":information_source: Your vote is already counted.",
    "expired": ":hourglass: This approval request has expired.",
    "superseded": ":information_source: This plan was replaced by a newer one.",
    "frozen": ":snowflake: Changes are frozen right now.",
    "already_decided": ":information_source: This plan is already decided.",
    "not_allowed": ":no_entry: You are not allowed to control this run.",
}


def refusal(code: str, detail: str) -> str:
    head = REFUSALS.get(code, ":no_entry: Refused.")
    return f"{head} {_clip(detail, 500)}" if detail else head


def approval_line(who: str | None, votes: Sequence[str], required: int, plan_hash: str) -> str:
    """``Needs 2 of @sre-leads · 1 of 2: @avery · plan a1b2c3d4e5f6`` on an open card."""
    needs = f"Needs {who}" if who else "No approval rule covers this plan: nobody can approve it"
    so_far = f"{len(votes)} of {required}" + (": " + ", ".join(f"<@{v}>" for v in votes) if votes else "")
    return f":ballot_box_with_ballot: {needs} · {so_far} · plan `{plan_hash[:12]}`"


def superseded_line(reason: str | None) -> str:
    """The old card of a re-planned task: which plan replaced it (votes on this one no longer count)."""
    newer = re.search(r"plan ([0-9a-f-]{8})", reason or "")
    which = f" by plan `{newer.group(1)}`" if newer else ""
    return (
        f":information_source: Superseded{which}: a newer plan replaced this one; decide on its card. Votes here no longer count."
    )


def time_left(expires_at: datetime) -> str:
    """``expires in 3h 58m`` (``expires at`` for the exact time in the fallback of clients that show no relative time)."""
    left = (expires_at - utcnow()).total_seconds()
    if left <= 0:
        return "expires now"
    return f"expires in {format_duration(left)} ({expires_at.strftime('%Y-%m-%d %H:%M UTC')})"


def quorum_unreachable(eligible: int, required: int) -> str:
    return (
        f":warning: This plan needs {required} approvals but only {eligible} people may approve it "
        "(the requester does not count for a high-risk change). Add approvers to the rule or lower `required`."
    )


def already_decided(message: str) -> str:
    return f":information_source: {message} Nothing changed."


def plan_gone() -> str:
    return ":information_source: That plan no longer exists."


def decided_line(decision: str, user_id: str, when: str, reason: str | None = None) -> str:
    icon = ":white_check_mark:" if decision == "approved" else ":x:"
    verb = "Approved" if decision == "approved" else "Rejected"
    because = f": _{_clip(reason, 300)}_" if reason else ""
    return f"{icon} {verb} by <@{user_id}> at {when}{because}"


def invalid_plan(errors: list[str]) -> str:
    shown = "\n".join(f"• {e}" for e in errors[:8])
    more = f"\n…and {len(errors) - 8} more" if len(errors) > 8 else ""
    return (
        f":no_entry: *This plan did not pass validation and cannot be approved.* Change the ask or the inventory:\n{shown}{more}"
    )


def report_note(actionable: bool = False) -> str:
    """The last line of a report card: a report changes nothing; its findings' buttons ask for the change."""
    if actionable:
        return (
            ":information_source: This report changes nothing. A finding's button asks for its change, which is planned,"
            " checked and sent for approval like any other ask."
        )
    return ":information_source: This report changes nothing, so there is nothing to approve."


# -- report cards (bot/report_blocks.py) and acting on a finding -------------------------------

REPORT_ACTION_LABELS = {
    "patch": "Plan this patch",
    "drift_fix": "Plan the fix",
    "image_rollout": "Plan the image rollout",
    "sop_step": "Write the SOP",
}
SEVERITY_WORDS = {
    "critical": ":red_circle: Critical",
    "high": ":large_orange_circle: High",
    "medium": ":large_yellow_circle: Medium",
    "low": ":large_blue_circle: Low",
    "info": ":white_circle: Info",
    None: ":white_circle: Unrated",
}


def report_action_label(kind: str, label: str | None) -> str:
    return _clip(label or REPORT_ACTION_LABELS.get(kind, "Plan this change"), 75)


def report_window(start: datetime | None, end: datetime | None) -> str:
    def when(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC")

    if start is not None and end is not None:
        return f"{when(start)} → {when(end)}"
    if end is not None:
        return f"as of {when(end)}"
    if start is not None:
        return f"since {when(start)}"
    return "n/a"


def report_counts(counts: Sequence[tuple[str, int]]) -> str:
    """``[("critical", 2), ("high", 1)]`` → ``2 critical · 1 high``."""
    return " · ".join(f"{n} {severity}" for severity, n in counts) or "none"


def report_group(severity: str | None, count: int) -> str:
    return f"*{SEVERITY_WORDS.get(severity, SEVERITY_WORDS[None])}* ({count})"


def report_finding(title: str, detail: str | None, evidence: Sequence[str], more: int, recommendation: str | None) -> str:
    """One finding: title, detail, a few evidence lines as code, the recommendation. Every part is untrusted tool text,
    escaped and clipped."""
    text = f"*{escape(title, 300)}*"
    if detail:
        text += "\n" + "\n".join(escape(line, 300) for line in detail.splitlines()[:6] if line.strip())
    if evidence:
        lines = [escape(line, 200).replace("```", "ˋˋˋ") for line in evidence]
        if more:
            lines.append(f"…and {more} more")
        text += "\n```\n" + "\n".join(lines) + "\n```"
    if recommendation:
        text += f"\n→ {escape(recommendation, 400)}"
    return text


def report_more_findings(counts: Sequence[tuple[str, int]]) -> str:
    total = sum(n for _, n in counts)
    return f"…and {total} more finding{'s' if total != 1 else ''} ({report_counts(counts)}) not shown here."


def report_sources(sources: Sequence[str]) -> str:
    return ":mag: Sources examined: " + "; ".join(escape(s, 200) for s in sources[:10])


def finding_asked(ask: str) -> str:
    return f":hourglass_flowing_sand: Asked: “{escape(ask, 300)}”. Its plan card follows in this channel, for approval like any other."


def finding_refused(message: str) -> str:
    return f":warning: {message} Nothing was asked."


# -- dry runs (ansible check mode) on the plan card ------------------------------------------


def dry_run_heading(playbook: str, hosts_changed: int, diff_hash: str) -> str:
    hosts = f"{hosts_changed} host{'s' if hosts_changed != 1 else ''}"
    return (
        f"*Dry run* · `{escape(playbook, 80)}` in check mode would change *{hosts}* · "
        f"diff `{diff_hash[:12]}` (approval binds to it; re-checked before each wave)"
    )


def dry_run_top_tasks(counts: list[tuple[str, int]]) -> str:
    lines = [f"• {escape(task, 120)}: {count} host{'s' if count != 1 else ''}" for task, count in counts]
    return "*Most common changes*\n" + "\n".join(lines)


def dry_run_diff(lines: list[str], limit: int = 1200) -> str:
    """Diff lines as a code block: each line Slack-escaped and kept on its own line, the whole capped."""
    shown: list[str] = []
    size = 0
    for line in lines:
        text = "".join(_ESCAPES.get(char, char) for char in line[:200].replace("```", "\u02cb" * 3))
        if size + len(text) + 1 > limit:
            shown.append("…")
            break
        shown.append(text)
        size += len(text) + 1
    return "*Diff excerpt*\n```\n" + "\n".join(shown) + "\n```"


def dry_run_unchecked(hosts: list[tuple[str, str, str]]) -> str:
    """Hosts the check could not reach or that failed in check mode: (host, status, message)."""
    lines = [f"• `{escape(host, 60)}` {status}: {escape(message, 200)}" for host, status, message in hosts[:8]]
    if len(hosts) > 8:
        lines.append(f"…and {len(hosts) - 8} more")
    count = f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}"
    return f":warning: *{count} not checked, left out of this plan*\n" + "\n".join(lines)


# -- run updates in the card's thread ------------------------------------------------------


def run_started(total_phases: int, total_assets: int, run_id: str | None = None) -> str:
    status = f" `/ops status {run_id[:8]}` shows its timeline." if run_id else ""
    return f":rocket: Run started: {total_phases} phases, {total_assets} assets. Updates follow in this thread.{status}"


def phase_started(index: int, total: int, name: str, assets: list[str]) -> str:
    if not assets:
        return f":hourglass_flowing_sand: Step {index + 1}/{total} *{name}* started"
    listed = ", ".join(assets[:5]) + (f" and {len(assets) - 5} more" if len(assets) > 5 else "")
    noun = "asset" if len(assets) == 1 else "assets"
    return f":hourglass_flowing_sand: Phase {index + 1}/{total} *{name}* started: {len(assets)} {noun} ({listed})"


def phase_completed(
    index: int,
    total: int,
    name: str,
    changed: int,
    health: dict[str, float],
    next_wait: float | None,
    outcomes: dict[str, int] | None = None,
    failures: tuple[str, ...] | list[str] = (),
) -> str:
    if not changed and not health:
        return f":white_check_mark: Step {index + 1}/{total} *{name}* done"
    measured = " · ".join(
        f"{k} {v:g}{'ms' if k == 'latency_p99' else '%'}" for k, v in health.items() if k in ("error_rate", "latency_p99")
    )
    after = f" · next phase in {format_duration(next_wait)}" if next_wait else ""
    counted = f"{changed} changed"
    if outcomes:  # hosts by outcome (the ansible driver): ok 2 · changed 3 · failed 1 · unreachable 0
        counted = " · ".join(f"{key} {outcomes.get(key, 0)}" for key in ("ok", "changed", "failed", "unreachable"))
    text = f":white_check_mark: Phase {index + 1}/{total} *{name}* completed: {counted}" + (f" · {measured}" if measured else "")
    text += after
    if failures:
        text += "\n" + "\n".join(f"• {line}" for line in failures)
    return text


def run_finished(state: str, reason: str | None, changed: int, reverted: int, done: int, total: int, seconds: float) -> str:
    took = format_duration(seconds)
    reason = escape(reason, REASON_LIMIT) if reason else reason  # driver text: never a mention, never a broken message
    if state == "completed":
        return f":tada: Run completed: {changed} assets changed in {done}/{total} phases, duration {took}."
    if state == "rolled_back":
        return f":rotating_light: Run rolled back after {took}: {reason}. {reverted} assets reverted to their previous versions."
    return f":x: Run failed after {took}: {reason}"


def run_active_line(total_phases: int) -> str:
    """The card of a run under way; the counts are in the thread's progress message."""
    return f":hourglass_flowing_sand: Running: {total_phases} phases · progress in the thread"


def run_progress(
    total_phases: int,
    total_assets: int,
    run_id: str | None,
    phases_done: int,
    assets_done: int,
    ended: bool = False,
) -> str:
    """The run's one progress message in the card's thread, posted at its start and edited at each phase end."""
    lines = [run_started(total_phases, total_assets, run_id)]
    progress = f"phase {phases_done} of {total_phases} done"
    if total_assets:
        progress += f" · {min(assets_done, total_assets)}/{total_assets} assets"
    if ended:  # how it ended is the reply below (the thread is searched for it by those words)
        progress += " · stopped, see the last reply"
    lines.append(f":bar_chart: Progress: {progress}")
    return "\n".join(lines)


def abort_confirm() -> str:
    return "The phase in progress finishes, then every asset this run changed goes back to its previous version."


def run_paused(actor: str, done: int, total: int) -> str:
    return f":pause_button: Paused by <@{actor}> after {done}/{total} phases. Nothing was reverted; Resume carries on."


def run_waiting(reason: str, done: int, total: int) -> str:
    reason = escape(reason, REASON_LIMIT)
    return (
        f":pause_button: Waiting for a person before phase {done + 1}/{total}: {reason}. "
        "An approver presses Resume to run it, or Abort to roll back."
    )


def run_resumed(actor: str, done: int, total: int) -> str:
    return f":arrow_forward: Resumed by <@{actor}> at phase {done + 1}/{total}."


def run_control_refused(message: str) -> str:
    return f":no_entry: {message}"


def run_status_line(state: str, changed: int, done: int, total: int) -> str:
    icons = {
        "completed": ":large_green_circle:",
        "rolled_back": ":rotating_light:",
        "failed": ":red_circle:",
        "executing": ":hourglass_flowing_sand:",
        "paused": ":pause_button:",
        "queued": ":clock3:",
    }
    words = {
        "completed": "Run completed",
        "rolled_back": "Run rolled back",
        "failed": "Run failed",
        "executing": "Running",
        "paused": "Paused",
        "queued": "Starting",
    }
    return f"{icons.get(state, ':white_circle:')} {words.get(state, state)}: {done}/{total} phases, {changed} assets changed"


# -- /ops status RUN_ID ----------------------------------------------------------------------

# -- /ops dry-run, /ops runs, /ops status without an id ---------------------------------------

DRY_RUN_FOOTER = "Dry run: no plan stored"
DRY_RUN_USAGE = ":information_source: What should I plan? `/ops dry-run fix drift on prod web servers`"


def dry_run_working(text: str) -> str:
    return f":test_tube: Dry run of _{escape(text, 200)}_ … (nothing is stored or started)"


def dry_run_note() -> str:
    return ":test_tube: Dry run: nothing was stored and nothing starts. Ask without `dry-run` to get a plan to approve."


def no_run_here() -> str:
    return f":information_source: No run in this channel yet. {STATUS_HINT}"


def run_line(run_id: str, state: str, environment: str, ask: str, when: str) -> str:
    return f"• `{run_id[:8]}` {STATE_WORDS.get(state, state)} · {environment} · _{escape(ask, 120)}_ · {when}"


def runs_list(lines: Sequence[str], *, here: bool) -> str:
    if not lines:
        return ":information_source: No runs yet."
    where = "in this channel" if here else "in all channels (none in this one yet)"
    head = f":clipboard: *The {_count(len(lines), 'newest run')} {where}*"
    return "\n".join([head, *lines, f"Details: {STATUS_HINT}"])


STATUS_HINT = "`/ops status RUN_ID` — the id is in the card's thread (`Run started: …`)."
STATE_WORDS = {
    "completed": "completed",
    "rolled_back": "rolled back",
    "failed": "failed",
    "executing": "running",
    "paused": "paused",
    "queued": "starting",
}


def inventory_refreshed(
    source: str, assets: int, added: list[str], removed: list[str], changed: list[str], left_out: dict[str, str]
) -> str:
    lines = [f":arrows_counterclockwise: Inventory re-read from {escape(source, 200)}: {_count(assets, 'asset')}."]
    if not (added or removed or changed):
        lines.append("Nothing changed since the last read.")
    for ids, what in ((added, "added"), (removed, "removed"), (changed, "changed")):
        if ids:
            lines.append(f"• {len(ids)} {what}: {_names(ids)}")
    if left_out:
        hosts = sorted(left_out)
        lines.append(f":warning: {_count(len(hosts), 'host')} left out:")
        lines += [f"• `{escape(h, 60)}`: {escape(left_out[h], 200)}" for h in hosts[:10]]
        if len(hosts) > 10:
            lines.append(f"• … and {len(hosts) - 10} more (OpsPilot's log names them all)")
    return "\n".join(lines)


def inventory_refresh_failed(problem: str) -> str:
    return f":warning: The inventory could not be re-read, so OpsPilot keeps using the last one. {escape(problem, 1500)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(ids: list[str], shown: int = 10) -> str:
    names = ", ".join(f"`{escape(i, 60)}`" for i in ids[:shown])
    return names + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def status_usage() -> str:
    return f":information_source: Which run? {STATUS_HINT}"


def status_unknown(problem: str) -> str:
    return f":information_source: {escape(problem, 300)}. {STATUS_HINT}"


def status_title(run_id: str, state: str) -> str:
    return f"Run {run_id[:8]} · {STATE_WORDS.get(state, state)}"


def status_fallback(run_id: str, state: str, done: int, total: int, duration: str) -> str:
    return f"Run {run_id[:8]} {STATE_WORDS.get(state, state)}: {done}/{total} phases, {duration}"


def status_counts(by_status: dict[str, int]) -> str:
    icons = {
        "succeeded": ":white_check_mark:",
        "failed": ":x:",
        "rolled_back": ":leftwards_arrow_with_hook:",
        "running": ":hourglass_flowing_sand:",
        "pending": ":white_circle:",
    }
    return " · ".join(f"{icons.get(s, '')} {n} {s.replace('_', ' ')}".strip() for s, n in sorted(by_status.items())) or "none"


def status_failed_line(subject: str, phase: str | None, error: str | None) -> str:
    """At most ~275 characters: ten of them fit in one section (3,000)."""
    where = f" ({escape(phase, 40)})" if phase else ""
    return f"• `{escape(subject, 60)}`{where}: {escape(error or 'no error recorded', 160)}"


def status_footer(run_id: str) -> str:
    return f"Run `{run_id}` · the whole timeline: `opspilot replay {run_id[:8]}`"


REASON_LIMIT = 1500  # a thread reply's reason; Slack's text limit is far above, the thread stays readable


def escape(text: str, limit: int) -> str:
    """Untrusted text (driver errors and output, names) as Slack mrkdwn: one line, ``&``, ``<`` and ``>`` escaped
    (so ``<!channel>`` cannot notify anyone), at most ``limit`` characters without cutting an escape in half."""
    pieces: list[str] = []
    size = 0
    for char in " ".join(text[: limit * 2].split()):
        piece = _ESCAPES.get(char, char)
        if size + len(piece) > limit - 1:
            pieces.append("…")
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)


_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def fallback_text(title: str, summary: str) -> str:
    return f"{_strip_emoji(title)}: {_clip(summary, 300)}"


def _strip_emoji(text: str) -> str:
    return text.split(" ", 1)[1] if text.startswith(":") and " " in text else text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- /ops approvals, /ops audit ID, the App Home ------------------------------------------------

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
AUDIT_LINES = 40


def person(actor: str) -> str:
    """A Slack user ID as a mention; anything else (``opspilot``, an API token's name) escaped as text."""
    return f"<@{actor}>" if USER_ID.match(actor) else escape(actor, 60)


def card_link(card: dict | None) -> str:
    """`` · card in <#C0OPS>`` when the plan's card was posted in Slack."""
    if card and card.get("front") == "slack" and card.get("channel"):
        return f" · card in <#{card['channel']}>"
    return ""


def waiting_line(
    summary: str, environment: str | None, requester: str | None, votes: int, required: int, plan_id: str, card: dict | None
) -> str:
    asked = f" · asked by {person(requester)}" if requester else ""
    return (
        f"• *{escape(summary, 150)}* · {environment or 'n/a'}{asked} · {votes} of {required} approvals"
        f" · plan `{plan_id[:8]}`{card_link(card)}"
    )


def approvals_waiting(lines: Sequence[str]) -> str:
    if not lines:
        return ":white_check_mark: Nothing waits for your approval."
    head = f":ballot_box_with_ballot: *{_count(len(lines), 'plan')} wait{'s' if len(lines) == 1 else ''} for you*"
    return "\n".join([head, *lines, "Approve or reject on the card, or in OpsPilot's App Home."])


def audit_line(at: str, actor: str, entity_type: str, entity_id: str, event: str, move: str | None) -> str:
    change = f" ({escape(move, 60)})" if move else ""
    return f"`{at}` {person(actor)} · {entity_type} `{entity_id[:8]}` · {escape(event, 60)}{change}"


def audit_trail(task_id: str, lines: Sequence[str], consistent: bool) -> str:
    shown = list(lines[-AUDIT_LINES:])
    earlier = len(lines) - len(shown)
    head = f":scroll: *Audit trail of task `{task_id[:8]}`* ({len(lines)} {'entry' if len(lines) == 1 else 'entries'})"
    if earlier:
        shown.insert(0, f"…{earlier} earlier; `opspilot audit {task_id}` shows them all")
    verdict = (
        ":white_check_mark: Replaying the log leads to the stored states."
        if consistent
        else ":warning: Replaying the log does NOT lead to the stored states: run `opspilot audit verify`."
    )
    return "\n".join([head, *shown, verdict])


# -- approval expiry and change freeze ------------------------------------------------------------


def expired_line(when: str, ttl_seconds: float | None = None) -> str:
    """On a card whose plan nobody decided within its rule's ttl (the buttons are gone)."""
    waited = f" after waiting {format_duration(ttl_seconds)}" if ttl_seconds else ""
    return f":hourglass: Expired at {when}{waited}: nobody decided in time, so it was rejected. Ask again if it is still needed."


def approval_reminder(who: str | None, ttl_seconds: float) -> str:
    """In the card's thread when a rule's ``on_expiry: renotify`` fires; the plan keeps waiting."""
    needs = f" {who}" if who else ""
    return f":bell: Reminder{needs}: this plan has waited {format_duration(ttl_seconds)} for a decision and still needs one."


def frozen_line(environment: str, reason: str, actor: str) -> str:
    return (
        f":snowflake: Frozen: {_clip(reason, 300)} ({environment}, by <@{actor}>). Votes wait and runs pause until it is lifted."
    )


def froze(environment: str, reason: str) -> str:
    return (
        f":snowflake: *{environment}* is frozen: _{_clip(reason, 300)}_. Votes there are refused, new runs do not start and "
        f"running ones pause at their next phase. `/ops unfreeze {environment}` lifts it."
    )


def unfroze(environment: str) -> str:
    return f":sunny: *{environment}* is no longer frozen. Runs paused by the freeze go on when someone presses Resume."


def freeze_refused(message: str) -> str:
    return f":no_entry: {_clip(message, 500)}"


# -- Slack OAuth install (bot/oauth; the pages /slack/install and /slack/oauth_redirect show) --------------------

INSTALL_PATH = "/slack/install"
INSTALLED_TITLE = f"{BOT_NAME} is installed"
NOT_INSTALLED_TITLE = f"{BOT_NAME} was not installed"
OAUTH_FAILURES = {
    "invalid_state": "This install link is not valid any more: it was already used, it expired (links last 10 minutes), "
    "or it was not issued by this OpsPilot.",
    "invalid_browser": "This install was started in another browser (or its cookie is gone), so OpsPilot cannot tell "
    "it is yours.",
    "missing_code": "Slack did not send an authorization code with this redirect.",
    "invalid_code": "Slack refused the authorization code: codes work once and expire after 10 minutes.",
    "access_denied": "The install was cancelled in Slack.",
    "storage_error": "OpsPilot could not save the installation just now.",
}


def install_failed(reason: str) -> str:
    """Why an OAuth install ended without an installation, and what works (an HTML page's text)."""
    why = OAUTH_FAILURES.get(reason, f"Slack answered {reason!r}.")
    return f"{why} Nothing was installed or changed. Start again from {INSTALL_PATH}."


def install_succeeded(team_name: str | None) -> str:
    where = f" to {team_name}" if team_name else ""
    return f"{BOT_NAME} is installed{where}. Try /ops help in any channel {BOT_NAME} is in."


def not_installed() -> str:
    """What Slack shows when a workspace's installation is missing or cannot be read (OAuth mode)."""
    return (
        f"{BOT_NAME} has no working installation for this workspace. An admin can install it again from "
        f"{INSTALL_PATH} on OpsPilot's address."
    )


# -- charts in threads (bot/charts): the alt text carries the same numbers as the image ----------------------------

PHASE_STATES = {
    "completed": "completed",
    "failed": "failed",
    "rolled_back": "rolled back",
    "skipped": "skipped",
    "running": "running",
    "pending": "not started",
}


def usd(value: float) -> str:
    return f"${value:,.0f}"


def short_duration(seconds: float) -> str:
    """``"<1s"``, ``"45s"``, ``"2m10s"``, ``"1h05m"``: a phase's length in a chart."""
    total = round(seconds)
    if total < 1:
        return "<1s" if seconds > 0 else "0s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def cost_chart_title(total: float) -> str:
    return f"Savings per recommendation: {usd(total)}/month in total"


def cost_chart_alt(items: Sequence[tuple[str, float]], total: float) -> str:
    listed = "; ".join(f"{label} {usd(value)}/month" for label, value in items)
    return f"Savings per recommendation: {listed}; total {usd(total)}/month"


def bucket_width(seconds: float) -> str:
    """``"10 min"``, ``"hour"``, ``"2 h"``, ``"30 s"``: one bar of an incident timeline."""
    whole = round(seconds)
    if whole == 3600:
        return "hour"
    if whole and whole % 3600 == 0:
        return f"{whole // 3600} h"
    if whole and whole % 60 == 0:
        return f"{whole // 60} min"
    return f"{whole} s"


def timeline_event(kind: str, detail: str, service: str | None, at: str) -> str:
    """``"deploy checkout v2.3 at 09:42"``."""
    what = kind.replace("_", " ")
    subject = detail if not service or service in detail else f"{service} {detail}"
    return f"{what} {subject} at {at}"


def incident_chart_title(width: str, start: str, end: str) -> str:
    return f"Errors per {width}, {start}–{end} UTC"


def incident_chart_alt(
    width: str,
    start: str,
    end: str,
    errors: Sequence[int],
    warnings: Sequence[int],
    events: Sequence[str],
    cause: str | None,
) -> str:
    text = f"Errors per {width} from {start} to {end} UTC: {', '.join(str(n) for n in errors)}"
    if any(warnings):
        text += f"; warnings: {', '.join(str(n) for n in warnings)}"
    if events:
        text += "; " + "; ".join(events)
    if cause:
        text += f"; likely cause: {cause}"
    return text


def phase_chart_title(run_id: str, state: str, seconds: float) -> str:
    return f"Phases of run {run_id[:8]}: {PHASE_STATES.get(state, state.replace('_', ' '))} in {short_duration(seconds)}"


def phase_chart_line(name: str, seconds: float | None, state: str) -> str:
    """``"canary 2m10s completed"``; a phase that never started has no length."""
    shown = PHASE_STATES.get(state, state.replace("_", " "))
    return f"{name} {shown}" if seconds is None else f"{name} {short_duration(seconds)} {shown}"


def phase_chart_alt(run_id: str, state: str, seconds: float, lines: Sequence[str]) -> str:
    ended = PHASE_STATES.get(state, state.replace("_", " "))
    return f"Phases of run {run_id[:8]} ({ended} in {short_duration(seconds)}): " + "; ".join(lines)


def chart_comment(title: str) -> str:
    """The message the chart is posted with."""
    return f":bar_chart: {title}"


def chart_as_text(alt_text: str) -> str:
    """A chart that could not be drawn or uploaded: its numbers as text."""
    return f":bar_chart: {alt_text}"
