"""`/ops dry-run ASK` through Slack's protocol: the plan card privately, without buttons, and nothing stored."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from bot.playground.emulator import OPS_CHANNEL, REQUESTER
from core.store import tables
from tests.bot.test_slack_loop import ASK, block_text, buttons


async def _rows(world) -> dict[str, int]:
    async with world.service.store.database.engine.connect() as conn:
        return {
            t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (tables.tasks, tables.plans, tables.runs, tables.asks)
        }


async def _answers(world, text: str, count: int):
    emu = world.emulator
    before = len(emu.ephemerals(REQUESTER))
    started = time.perf_counter()
    delivery = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", text)
    acked = time.perf_counter() - started
    assert delivery.status == 200
    await emu.wait_for(lambda: len(emu.ephemerals(REQUESTER)) >= before + count, timeout=15)
    # The ack (the HTTP answer) and the answer (through response_url) may arrive in either order: the ack first.
    answers = emu.ephemerals(REQUESTER)[before:]
    return acked, sorted(answers, key=lambda m: not m.text.startswith(":test_tube: Dry run of"))


async def test_dry_run_answers_privately_with_a_card_without_buttons_and_stores_nothing(world) -> None:
    emu = world.emulator
    before = await _rows(world)

    acked, (ack, card) = await _answers(world, f"dry-run {ASK}", 2)

    assert acked < 3.0
    assert ack.text.startswith(":test_tube: Dry run of _fix drift on prod web servers_")
    assert card.blocks[0]["type"] == "header"
    text = block_text(card)
    assert "Dry run: nothing was stored and nothing starts" in text
    assert "*Environment*\nproduction" in text
    assert "Dry run: no plan stored" in text and "Plan `" not in text, "no id of a plan that does not exist"
    assert not buttons(card)
    assert emu.messages(OPS_CHANNEL) == [], "no card in the channel"
    assert await _rows(world) == before, "no ask, task, plan or run recorded"
    assert not emu.warnings


async def test_plan_as_a_first_word_stays_an_ordinary_ask(world) -> None:
    _, (ack,) = await _answers(world, "plan a DR drill", 1)
    assert ack.text.startswith(":hourglass_flowing_sand: Working on _plan a DR drill_")
    assert (await _rows(world))["asks"] == 1, "recorded for a worker like any other ask"


async def test_dry_run_without_an_ask_says_how_and_changes_nothing(world) -> None:
    before = await _rows(world)
    _, (answer,) = await _answers(world, "dry-run", 1)
    assert "What should I plan?" in answer.text and "/ops dry-run fix drift" in answer.text
    assert await _rows(world) == before
    assert world.emulator.messages(OPS_CHANNEL) == []


async def test_dry_run_of_an_ask_nothing_can_plan_says_why_privately(world) -> None:
    before = await _rows(world)
    _, (_, answer) = await _answers(world, "dry-run make me a sandwich", 2)
    assert not answer.blocks or not buttons(answer)
    assert "Dry run of" not in answer.text
    assert "can't map that" in answer.text
    assert await _rows(world) == before
    assert world.emulator.messages(OPS_CHANNEL) == []
