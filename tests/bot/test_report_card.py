"""A report's card reads like a report: window, sources, findings by severity with evidence, a button only on a
finding an agent can plan, and none of a change plan's machinery. Slack's limits hold whatever the report holds."""

from __future__ import annotations

import json

from bot import messages
from bot.app import dry_run_reply
from bot.blocks import plan_card
from bot.report_blocks import REPORT_ACT_ACTION, read_act_value
from core.domain import Plan, Task
from core.domain.plan import Finding, FindingAction
from core.intake import Ask
from core.report_actions import finding_fingerprint
from core.service import OpsPilot

PLAN_MACHINERY = ("Phases", "Estimated duration", "Quality score", "*Checks*", "approval required", "*Risk*")


async def _report(service: OpsPilot, text: str) -> tuple[Task, Plan]:
    outcome = await service.submit(Ask(text=text, user_id="U0REQUESTER"))
    assert outcome.plan is not None and outcome.task is not None, outcome.message
    return outcome.task, outcome.plan


def _texts(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _buttons(blocks: list[dict]) -> list[dict]:
    found = [b["accessory"] for b in blocks if isinstance(b.get("accessory"), dict)]
    found += [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return found


async def test_a_security_report_card_has_no_plan_machinery_and_groups_findings_by_severity(service: OpsPilot) -> None:
    task, plan = await _report(service, "scan prod for exposed ports and vulnerabilities")

    card = plan_card(task, plan)
    text = _texts(card.blocks)

    for word in PLAN_MACHINERY:
        assert word not in text, word
    assert "plan_approve" not in text and "plan_reject" not in text
    fields = next(b for b in card.blocks if b.get("fields"))["fields"]
    assert [f["text"].split("\n")[0] for f in fields] == ["*Environment*", "*Time window*", "*Findings* (9)", "*Requested by*"]
    assert fields[1]["text"].startswith("*Time window*\nas of ")
    assert "Sources examined: open ports of the 46 assets" in text and "CVE feed" in text
    order = ["Critical", "High", "Medium", "Low", "Info"]
    headings = [
        word
        for b in card.blocks
        if b["type"] == "section" and "text" in b
        for word in order
        if b["text"]["text"].startswith("*:") and f" {word}*" in b["text"]["text"]
    ]
    assert headings[0] == "Critical" and headings == sorted(headings, key=order.index) and len(set(headings)) == len(headings)
    assert "web-prod-002: ubuntu-base 2.2.7 (fixed in 2.4.1)" in text  # evidence
    assert messages.report_note(True) in text


async def test_buttons_only_on_findings_with_an_action_and_they_carry_the_plan_and_the_finding(service: OpsPilot) -> None:
    task, plan = await _report(service, "scan prod for exposed ports and vulnerabilities")

    card = plan_card(task, plan)

    buttons = _buttons(card.blocks)
    actionable = [i for i, f in enumerate(plan.payload.findings) if f.action is not None]
    assert actionable and len(actionable) < len(plan.payload.findings)
    assert sorted(b["action_id"] for b in buttons) == sorted(f"{REPORT_ACT_ACTION}:{i}" for i in actionable)
    for button in buttons:
        index = int(button["action_id"].split(":")[1])
        assert read_act_value(button["value"]) == (plan.id, index, finding_fingerprint(plan.payload.findings[index]))
        assert button["text"]["text"] == "Plan this patch"
    for block in card.blocks:  # an exposure has no button
        if "open to the internet" in json.dumps(block):
            assert "accessory" not in block


async def test_a_cost_report_has_no_buttons_and_its_window_is_the_billing_month(service: OpsPilot) -> None:
    task, plan = await _report(service, "where can we cut cost")

    card = plan_card(task, plan)

    assert _buttons(card.blocks) == []
    assert "2024-06-01 00:00 UTC → 2024-07-01 00:00 UTC" in _texts(card.blocks)
    assert messages.report_note(False) in _texts(card.blocks)


async def test_a_huge_report_stays_inside_slacks_limits_and_says_how_many_more(service: OpsPilot) -> None:
    task, plan = await _report(service, "scan prod for exposed ports and vulnerabilities")
    severities = ["critical", "high", "medium", "low", "info"]
    findings = [
        Finding(
            title=f"Finding {i} " + "t" * 400,
            severity=severities[i % 5],  # type: ignore[arg-type]
            detail="d" * 5000,
            evidence=[f"line {j} <!channel> " + "e" * 500 for j in range(40)],
            recommendation="r" * 2000,
            action=FindingAction(kind="patch", ask=f"patch CVE-2024-{i:04d} on production") if i % 2 else None,
        )
        for i in range(200)
    ]
    huge = plan.model_copy(update={"payload": plan.payload.model_copy(update={"findings": findings})})

    card = plan_card(task, huge)

    assert len(card.blocks) <= 50
    for block in card.blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    text = _texts(card.blocks)
    assert "<!channel>" not in text  # tool text is escaped
    shown = sum(1 for b in card.blocks if b["type"] == "section" and "text" in b and b["text"]["text"].startswith("*Finding "))
    assert f"…and {200 - shown} more findings" in text
    assert card.blocks[-1]["elements"][0]["text"].startswith(f"Plan `{plan.id[:8]}`")  # the footer survives
    # critical first: the first finding shown is a critical one
    first = next(b for b in card.blocks if b["type"] == "section" and "text" in b and b["text"]["text"].startswith("*Finding "))
    assert int(first["text"]["text"].split()[1]) % 5 == 0


async def test_a_change_plan_card_keeps_its_machinery(service: OpsPilot) -> None:
    outcome = await service.submit(Ask(text="patch CVE-2024-3094 on staging db servers", user_id="U0REQUESTER"))
    assert outcome.plan is not None and outcome.task is not None

    text = _texts(plan_card(outcome.task, outcome.plan).blocks)

    assert "*Phases*" in text and "plan_approve" in text and REPORT_ACT_ACTION not in text


async def test_a_dry_run_of_a_report_shows_no_finding_buttons(service: OpsPilot) -> None:
    outcome = await service.dry_run(Ask(text="scan prod for exposed ports and vulnerabilities", user_id="U0REQUESTER"))

    reply = dry_run_reply(outcome)

    assert "Plan this patch" in json.dumps(plan_card(outcome.task, outcome.plan).blocks)  # the card would have them
    assert _buttons(reply["blocks"]) == [] and "CVE-2024-3094" in json.dumps(reply["blocks"])
