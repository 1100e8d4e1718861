"""On-call people stop a rollout from the card: Pause, Resume, Abort (approvers only)."""

from __future__ import annotations

from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, OUTSIDER, REQUESTER


def buttons(message) -> dict[str, dict]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def _running_card(world):
    emu = world.emulator
    world.service.executor.wait_scale = 1000.0  # the run waits between phases, as it would in production
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on staging web servers")
    card = await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in buttons(m)), None))
    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    # The card offers Pause and Abort from the approval on (a queued run shows as running); wait until the first
    # phase is under way, so there is something to pause or roll back.
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Phase 1/" in m.text), None))
    return await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "run_pause" in buttons(m) and m)


async def test_pause_resume_from_the_card(world) -> None:
    emu = world.emulator
    card = await _running_card(world)
    assert buttons(card)["run_abort"]["confirm"], "abort asks before it reverts anything"

    await emu.click_button(OUTSIDER, OPS_CHANNEL, card.ts, "run_pause")
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(OUTSIDER) if "Only approvers" in m.text), None))

    await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, "run_pause")
    paused = await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "run_resume" in buttons(m) and m)
    await emu.wait_for(
        lambda: next((r for r in emu.thread(OPS_CHANNEL, card.ts) if f"Paused by <@{APPROVER_2}>" in r.text), None)
    )

    world.service.executor.wait_scale = 0.0
    await emu.click_button(APPROVER_1, OPS_CHANNEL, paused.ts, "run_resume")
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=30)
    final = await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "Run completed" in str(m.blocks) and m)
    assert not buttons(final), "a finished run has no controls"


async def test_abort_rolls_back_and_says_so_in_the_thread(world) -> None:
    emu = world.emulator
    card = await _running_card(world)
    await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, "run_abort")
    reply = await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "rolled back" in m.text), None))
    assert f"aborted by {APPROVER_2}" in reply.text
    runs = await world.service.store.runs_in_states(["rolled_back"])
    assert len(runs) == 1
