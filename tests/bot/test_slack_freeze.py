"""Change freeze in Slack: `/ops freeze production REASON` by an approver, the card says so, votes are refused with
the reason; who may freeze; an ordinary ask that starts with "freeze" is still an ask."""

from __future__ import annotations

import json
from pathlib import Path

from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, REQUESTER


def buttons(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


def _rules(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "rules.yaml"
    rule = {"match": {"environment": "production"}, "approvers": {"users": [APPROVER_1, APPROVER_2]}, "required": 1}
    path.write_text(json.dumps({"approvals": {"rules": [rule]}}), encoding="utf-8")  # JSON is YAML
    return {"OPSPILOT_CONFIG": str(path)}


async def test_a_freeze_is_shown_on_the_card_and_refuses_the_vote_with_its_reason(make_world, tmp_path: Path) -> None:
    world = await make_world(env=_rules(tmp_path))
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on prod web servers")
    card = await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in buttons(m)), None))

    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "freeze production quarter-end close")
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(REQUESTER) if "approvers of production" in m.text), None))
    assert await world.service.frozen("production") is None, "the requester is no approver: nothing is frozen"

    await emu.send_slash_command(APPROVER_2, OPS_CHANNEL, "/ops", "freeze production quarter-end close")
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(APPROVER_2) if "is frozen" in m.text), None))
    await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "Frozen: quarter-end close" in str(m.blocks))

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    refusal = await emu.wait_for(lambda: next((m for m in emu.ephemerals(APPROVER_1) if ":snowflake:" in m.text), None))
    assert "quarter-end close" in refusal.text
    plan = await world.service.get_plan(buttons(card)["plan_approve"]["value"])
    assert plan.state == "awaiting_approval"

    await emu.send_slash_command(APPROVER_1, OPS_CHANNEL, "/ops", "unfreeze production")
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(APPROVER_1) if "no longer frozen" in m.text), None))
    await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "Frozen:" not in str(m.blocks) and m)


async def test_an_ask_starting_with_freeze_that_is_not_the_command_is_planned(make_world, tmp_path: Path) -> None:
    world = await make_world(env=_rules(tmp_path))
    emu = world.emulator
    delivery = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "freeze dev web servers at their versions")
    assert "Working on" in str(delivery.body)
    assert await world.service.frozen("development") is None
