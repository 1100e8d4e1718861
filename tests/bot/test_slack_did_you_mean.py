"""An unclear ask in Slack: the asker privately gets a button per likely reading; clicking one goes on as if the ask
had said it (its card is posted as for any ask). An ask about something else says what OpsPilot does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.blocks import CHOICE_ACTION
from bot.playground.emulator import OPS_CHANNEL, OUTSIDER, REQUESTER

UNCLEAR = "payments outage cost"


def buttons(message) -> list[dict]:
    return [e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


@pytest.fixture
async def strict_world(make_world, tmp_path: Path):
    """A bot that asks back unless it is very sure (intents.min_confidence: 0.95)."""
    config = tmp_path / "opspilot.yaml"
    config.write_text("intents:\n  min_confidence: 0.95\n")
    return await make_world(env={"OPSPILOT_CONFIG": str(config)})


async def test_an_unclear_ask_offers_buttons_and_a_click_continues_the_ask(strict_world) -> None:
    emu = strict_world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", UNCLEAR)

    offer = await emu.wait_for(lambda: next((m for m in emu.ephemerals(REQUESTER) if buttons(m)), None), timeout=15)
    labels = [b["text"]["text"] for b in buttons(offer)]
    assert "Investigate an incident on payments (production)?" in labels and "Review cost (all environments)?" in labels
    assert all(b["action_id"].startswith(f"{CHOICE_ACTION}:") for b in buttons(offer))
    assert "Did you mean" in offer.text
    assert emu.messages(OPS_CHANNEL) == [] and await strict_world.service.store.recent_tasks() == []

    cost = next(b for b in buttons(offer) if b["text"]["text"].startswith("Review cost"))
    delivery = await emu.click_button(REQUESTER, OPS_CHANNEL, offer.ts, cost["action_id"])
    assert delivery.status == 200

    card = await emu.wait_for(lambda: next(iter(emu.messages(OPS_CHANNEL)), None), timeout=15)
    assert "Cost report" in card.text or "Cost report" in str(card.blocks)
    [task] = await strict_world.service.store.recent_tasks()
    assert task.user_intent == UNCLEAR and task.task_spec.agent_name == "cost_agent"
    assert not emu.warnings


async def test_only_the_asker_sees_and_can_click_the_choices(strict_world) -> None:
    emu = strict_world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", UNCLEAR)
    offer = await emu.wait_for(lambda: next((m for m in emu.ephemerals(REQUESTER) if buttons(m)), None), timeout=15)

    assert not [m for m in emu.ephemerals(OUTSIDER) if buttons(m)]
    with pytest.raises(LookupError):
        await emu.click_button(OUTSIDER, OPS_CHANNEL, offer.ts, buttons(offer)[0]["action_id"])


async def test_an_ask_about_something_else_says_what_opspilot_does_and_creates_nothing(world) -> None:
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "order pizza for the team")

    reply = await emu.wait_for(lambda: next((m for m in emu.ephemerals(REQUESTER) if "can't map" in m.text), None), timeout=15)
    assert "fix drift on prod web servers" in reply.text and not buttons(reply)
    assert await world.service.store.recent_tasks() == []
