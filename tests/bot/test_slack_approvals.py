"""Approval rules in Slack: a group rule read through usergroups.users.list, a 2-of-N quorum on the card, and a
group Slack cannot answer for, which lets nobody in."""

from __future__ import annotations

import json
from pathlib import Path

from bot.playground.emulator import APPROVER_1, APPROVER_2, APPROVERS_GROUP, OPS_CHANNEL, REQUESTER

MISSING_GROUP = "S0NOSUCHGROUP"


def buttons(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


def _rules(tmp_path: Path, group: str) -> dict[str, str]:
    path = tmp_path / "rules.yaml"
    rule = {"match": {"environment": "production"}, "approvers": {"groups": [group]}, "required": 2}
    path.write_text(json.dumps({"approvals": {"rules": [rule]}}), encoding="utf-8")  # JSON is YAML
    return {"OPSPILOT_CONFIG": str(path)}


async def _card(emu, ask: str = "fix drift on prod web servers"):
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ask)
    return await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in buttons(m)), None))


async def test_two_group_members_approve_and_the_card_shows_the_votes(make_world, tmp_path: Path) -> None:
    world = await make_world(env=_rules(tmp_path, APPROVERS_GROUP))
    emu = world.emulator
    card = await _card(emu)
    assert f"Needs 2 of <!subteam^{APPROVERS_GROUP}>" in str(card.blocks) and "0 of 2" in str(card.blocks)

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    voted = await emu.wait_for(
        lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and f"1 of 2: <@{APPROVER_1}>" in str(m.blocks) and m
    )
    assert "plan_approve" in buttons(voted), "the card stays open for the second vote"
    assert [c.params.get("usergroup") for c in emu.calls_to("usergroups.users.list")] == [APPROVERS_GROUP]

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(APPROVER_1) if "already counted" in m.text), None))

    await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, "plan_approve")
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=30)
    plan = await world.service.get_plan(buttons(card)["plan_approve"]["value"])
    assert plan.approval is not None and plan.approval.votes == [APPROVER_1, APPROVER_2]
    assert len(emu.calls_to("usergroups.users.list")) == 1, "members are cached for a minute"


async def test_a_group_slack_cannot_answer_for_lets_nobody_approve(make_world, tmp_path: Path) -> None:
    world = await make_world(env=_rules(tmp_path, MISSING_GROUP))
    emu = world.emulator
    card = await _card(emu)
    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    refusal = await emu.wait_for(lambda: next((m for m in emu.ephemerals(APPROVER_1) if "not allowed" in m.text), None))
    assert MISSING_GROUP in refusal.text and "no_such_subteam" in refusal.text
    plan = await world.service.get_plan(buttons(card)["plan_approve"]["value"])
    assert plan.state == "awaiting_approval"
    assert await world.service.store.runs_for_plan(plan.id) == []
