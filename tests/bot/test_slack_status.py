"""`/ops status RUN_ID` through Slack's protocol: the run's summary, safe against whatever a driver said."""

from __future__ import annotations

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER
from core.errors import DriverError
from core.executor.drivers import DriverAction, DriverResult
from core.executor.drivers.simulate import SimulateDriver
from tests.bot.test_slack_loop import ASK, block_text, buttons, wait_for_card

NOISY_ERROR = "<!channel> disk full & <b>bad</b> " + "x" * 5000


class NoisyDriver(SimulateDriver):
    """Fails every apply with an error that mentions the whole channel and runs on for 5,000 characters."""

    async def perform(self, action: DriverAction) -> DriverResult:
        if action.action == "apply":
            raise DriverError(NOISY_ERROR)
        return await super().perform(action)


async def _finished_run(world, driver=None) -> str:
    emu, service = world.emulator, world.service
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]
    if driver is not None:
        service.executor.driver = driver(service.inventory)
    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    await emu.wait_for(
        lambda: next(
            (
                m
                for m in emu.thread(OPS_CHANNEL, card.ts)
                if "Run " in m.text and any(w in m.text for w in ("completed", "rolled back", "failed"))
            ),
            None,
        ),
        timeout=30,
    )
    await service.executor.wait_idle(20)
    runs = await service.store.runs_for_plan(plan_id)
    assert len(runs) == 1
    return runs[0].id


async def _status(world, text: str):
    emu = world.emulator
    before = len(emu.ephemerals(REQUESTER))
    delivery = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", text)
    assert delivery.status == 200
    return await emu.wait_for(lambda: emu.ephemerals(REQUESTER)[before] if len(emu.ephemerals(REQUESTER)) > before else None)


async def test_status_of_a_completed_run_shows_its_phases_and_counts(world) -> None:
    run_id = await _finished_run(world)
    answer = await _status(world, f"status {run_id[:8]}")
    text = block_text(answer)
    assert answer.blocks[0]["type"] == "header" and answer.blocks[0]["text"]["text"] == f"Run {run_id[:8]} · completed"
    plan = await world.service.get_plan((await world.service.store.get_run(run_id)).plan_id)
    phases, assets = len(plan.payload.phases), len(plan.payload.affected_assets)
    assert f"*Phases*\n{phases}/{phases} done" in text
    assert f"{assets} succeeded" in text
    assert "*Failed*" not in text
    assert f"Run {run_id[:8]} completed: {phases}/{phases} phases" in answer.text
    assert not world.emulator.warnings


async def test_status_escapes_and_clips_a_driver_error_that_mentions_the_channel(world) -> None:
    run_id = await _finished_run(world, NoisyDriver)
    answer = await _status(world, f"status {run_id}")
    assert not world.emulator.warnings, "Slack accepted the blocks"
    text = block_text(answer)
    assert answer.blocks[0]["text"]["text"] == f"Run {run_id[:8]} · rolled back"
    assert "*Failed* (" in text and ":x:" in text
    assert "&lt;!channel&gt; disk full &amp; &lt;b&gt;bad&lt;/b&gt; xxx" in text
    assert "<!channel>" not in text and "<!channel>" not in answer.text and "<b>" not in text
    for block in answer.blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
    assert "x" * 1000 not in text, "each error is an excerpt"


async def test_status_without_an_id_or_with_an_unknown_one_says_what_would_work(world) -> None:
    for text in ("status", "status nope-1234-5678"):
        answer = await _status(world, text)
        assert "/ops status RUN_ID" in answer.text and "card's thread" in answer.text
    assert "no run with id nope-1234-5678" in answer.text
    assert "No run in this channel yet" in (await _status(world, "status")).text
    assert not world.emulator.warnings
