"""Acting on a report's finding, end to end through the Slack emulator: a security scan's card, a CVE's button, the
patch plan's card with Approve / Reject, and its approval and run. A finding nothing can act on has no button, and a
forged click gets a private answer and records nothing."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER
from bot.playground.seeds import TEAM_ID
from bot.report_blocks import REPORT_ACT_ACTION
from tests.bot.test_slack_intake import post_signed


def accessories(message) -> dict[str, dict]:
    return {
        b["accessory"]["action_id"]: b["accessory"]
        for b in message.blocks
        if isinstance(b.get("accessory"), dict) and b["accessory"].get("type") == "button"
    }


def actions(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def _report_card(emu):
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "scan prod for exposed ports and vulnerabilities")
    return await emu.wait_for(
        lambda: next(
            (m for m in emu.messages(OPS_CHANNEL) if any(a.startswith(REPORT_ACT_ACTION) for a in accessories(m))), None
        ),
        timeout=20,
    )


async def _asks(world) -> int:
    return sum((await world.service.asks.counts()).values())


async def test_a_cves_button_on_the_security_report_becomes_a_patch_plan_that_is_approved_and_runs(world) -> None:
    emu = world.emulator
    report = await _report_card(emu)
    assert "plan_approve" not in actions(report) and "Phases" not in json.dumps(report.blocks)
    buttons = accessories(report)
    xz = next(b for b in report.blocks if "CVE-2024-3094" in json.dumps(b) and b.get("accessory"))
    action_id = xz["accessory"]["action_id"]
    report_plan_id = json.loads(buttons[action_id]["value"])["plan"]
    asks_before = await _asks(world)

    await emu.click_button(REQUESTER, OPS_CHANNEL, report.ts, action_id)

    asked = await emu.wait_for(lambda: next((m for m in emu.ephemerals(REQUESTER) if "Asked:" in m.text), None))
    assert "patch CVE-2024-3094 on production" in asked.text
    card = await emu.wait_for(
        lambda: next((m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in actions(m)), None), timeout=20
    )
    assert "Patch rollout plan" in json.dumps(card.blocks) and "plan_reject" in actions(card)
    assert await _asks(world) == asks_before + 1
    plan = await world.service.get_plan(actions(card)["plan_approve"]["value"])
    task = await world.service.get_task(plan.task_id)
    assert plan.type == "patch_plan" and plan.state == "awaiting_approval"
    assert task.origin["from_report"] == report_plan_id and task.created_by == REQUESTER
    audit = await world.service.store.audit_entries([report_plan_id])
    assert [e.event for e in audit if e.event == "report.finding_acted"] == ["report.finding_acted"]

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=60)
    assert emu.warnings == []  # the report card is valid Block Kit


async def test_a_finding_nothing_can_act_on_has_no_button_and_forged_clicks_record_nothing(world) -> None:
    emu = world.emulator
    report = await _report_card(emu)
    plan_id = json.loads(next(iter(accessories(report).values()))["value"])["plan"]
    plan = await world.service.get_plan(plan_id)
    exposure = next(i for i, f in enumerate(plan.payload.findings) if "open to the internet" in f.title)
    assert f"{REPORT_ACT_ACTION}:{exposure}" not in accessories(report)  # no button to click
    asks_before = await _asks(world)

    # Forge the value of a real button: an index past the end, then an exposure finding, then a plan that is not there.
    stored = emu.find_message(OPS_CHANNEL, report.ts)
    button = next(b["accessory"] for b in stored.blocks if isinstance(b.get("accessory"), dict))
    forged = [
        (json.dumps({"plan": plan_id, "finding": 999}), "there is no finding 1000"),
        (json.dumps({"plan": plan_id, "finding": exposure}), "Nothing OpsPilot can plan acts on"),
        (json.dumps({"plan": "no-such-plan", "finding": 0}), "That report is gone"),
        ("not json", "not one of OpsPilot's"),
    ]
    for value, says in forged:
        button["value"] = value
        await emu.click_button(REQUESTER, OPS_CHANNEL, report.ts, button["action_id"])
        refusal = await emu.wait_for(lambda says=says: next((m for m in emu.ephemerals(REQUESTER) if says in m.text), None))
        assert "Nothing was asked" in refusal.text

    assert await _asks(world) == asks_before
    assert not [m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in actions(m)]


async def test_a_finding_click_slack_delivers_three_times_is_one_ask(world) -> None:
    emu = world.emulator
    report = await _report_card(emu)
    action_id, button = next(iter(accessories(report).items()))
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": REQUESTER},
        "channel": {"id": OPS_CHANNEL},
        "container": {"type": "message", "message_ts": report.ts, "channel_id": OPS_CHANNEL},
        "trigger_id": "1.2.trigger",
        "response_url": emu.response_url(REQUESTER, OPS_CHANNEL),
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": button["value"], "action_ts": "1.5"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    url = emu.bot_url
    asks_before = await _asks(world)

    statuses = [(await post_signed(url, body, "application/x-www-form-urlencoded"))[0]]
    for n in (1, 2):
        retry = {"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}
        statuses.append((await post_signed(url, body, "application/x-www-form-urlencoded", **retry))[0])

    assert statuses == [200, 200, 200]
    await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in actions(m)), None), timeout=20)
    assert await _asks(world) == asks_before + 1
    assert len([m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in actions(m)]) == 1
