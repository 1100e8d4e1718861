"""Approval expiry in Slack: a rejected-by-expiry card loses its buttons and says so; renotify posts a reminder."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER
from bot.playground.records import Message
from core.clock import ManualClock
from core.timeutil import utcnow
from tests.bot.conftest import SlackWorld


def buttons(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


def _rules(tmp_path: Path, on_expiry: str) -> dict[str, str]:
    path = tmp_path / "rules.yaml"
    rule = {"match": {}, "approvers": {"users": [APPROVER_1]}, "ttl": "1h", "on_expiry": on_expiry}
    path.write_text(json.dumps({"approvals": {"rules": [rule]}}), encoding="utf-8")  # JSON is YAML
    return {"OPSPILOT_CONFIG": str(path)}


async def _card_then_two_hours_later(world: SlackWorld) -> Message:
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on prod web servers")
    card = await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in buttons(m)), None))
    world.service.expiry.work.clock = ManualClock(utcnow() + timedelta(hours=2))  # the expiry worker's time moves on
    world.service.expiry.worker.wake()
    return card


async def test_an_expired_plan_card_loses_its_buttons_and_says_it_expired(make_world, tmp_path: Path) -> None:
    world = await make_world(env=_rules(tmp_path, "reject"))
    emu = world.emulator
    card = await _card_then_two_hours_later(world)
    expired = await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "Expired at" in str(m.blocks) and m)
    assert buttons(expired) == {}
    late = await world.service.decide(buttons(card)["plan_approve"]["value"], APPROVER_1, "approved")  # a stale client
    assert late.status == "expired"


async def test_renotify_reminds_in_the_thread_and_keeps_the_buttons(make_world, tmp_path: Path) -> None:
    world = await make_world(env=_rules(tmp_path, "renotify"))
    emu = world.emulator
    card = await _card_then_two_hours_later(world)
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Reminder" in m.text), None))
    assert "plan_approve" in buttons(emu.find_message(OPS_CHANNEL, card.ts))
