"""`/ops status` without an id and `/ops runs`: this channel's runs, privately."""

from __future__ import annotations

from bot.playground.emulator import OPS_CHANNEL, REQUESTER, SANDBOX_CHANNEL
from tests.bot.test_slack_loop import block_text
from tests.bot.test_slack_status import _finished_run


async def _answer(world, text: str, channel: str = OPS_CHANNEL):
    emu = world.emulator
    before = len(emu.ephemerals(REQUESTER))
    delivery = await emu.send_slash_command(REQUESTER, channel, "/ops", text)
    assert delivery.status == 200
    return await emu.wait_for(lambda: emu.ephemerals(REQUESTER)[before] if len(emu.ephemerals(REQUESTER)) > before else None)


async def test_status_without_an_id_shows_the_channels_latest_run(world) -> None:
    run_id = await _finished_run(world)

    latest = await _answer(world, "status")
    by_id = await _answer(world, f"status {run_id}")

    assert latest.blocks[0]["text"]["text"] == f"Run {run_id[:8]} · completed"
    assert block_text(latest) == block_text(by_id)
    assert not world.emulator.warnings


async def test_status_without_an_id_in_a_channel_without_runs_says_so(world) -> None:
    await _finished_run(world)
    answer = await _answer(world, "status", SANDBOX_CHANNEL)
    assert "No run in this channel yet" in answer.text and "/ops status RUN_ID" in answer.text
    assert not answer.blocks


async def test_runs_lists_the_channels_runs_with_state_environment_and_ask(world) -> None:
    run_id = await _finished_run(world)

    answer = await _answer(world, "runs")

    assert "*The 1 newest run in this channel*" in answer.text
    assert f"• `{run_id[:8]}` completed · production · _fix drift on prod web servers_ · " in answer.text
    assert " UTC" in answer.text
    assert world.emulator.messages(SANDBOX_CHANNEL) == []


async def test_runs_in_a_channel_without_runs_lists_all_channels(world) -> None:
    run_id = await _finished_run(world)
    answer = await _answer(world, "runs", SANDBOX_CHANNEL)
    assert "in all channels (none in this one yet)" in answer.text and run_id[:8] in answer.text


async def test_runs_and_status_before_any_run(world) -> None:
    assert "No runs yet." in (await _answer(world, "runs")).text
    assert "No run in this channel yet" in (await _answer(world, "status")).text


async def test_help_lists_what_the_live_registry_can_do(world) -> None:
    answer = await _answer(world, "help")
    assert "*What I can do:*" in answer.text
    for agent in world.service.agents.all():
        assert f"• *{agent.title}*: " in answer.text
    assert "`/ops dry-run ASK`" in answer.text and "`/ops runs`" in answer.text
