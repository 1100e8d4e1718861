"""The whole loop through Slack's protocol: ask → card → refused click → approval → phased run in the thread."""

from __future__ import annotations

import asyncio
import time

from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, OUTSIDER, REQUESTER
from bot.playground.records import RateLimit
from core.audit import replay
from core.intake import Ask
from core.inventory import load_fleet
from core.paths import SAMPLE_DATA_DIR

ASK = "fix drift on prod web servers"


def drifted_prod_web_servers() -> list[str]:
    fleet = load_fleet(SAMPLE_DATA_DIR / "fleet.yaml")
    return [a.id for a in fleet.assets if a.environment == "production" and a.role == "web-server" and fleet.is_drifted(a)]


def buttons(message) -> list[dict]:
    return [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def block_text(message) -> str:
    parts = []
    for block in message.blocks:
        for key in ("text",):
            if isinstance(block.get(key), dict):
                parts.append(block[key]["text"])
        for item in block.get("fields", []) + block.get("elements", []):
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                parts.append(item["text"])
            elif isinstance(item, dict) and isinstance(item.get("text"), dict):
                parts.append(item["text"]["text"])
    return "\n".join(parts)


async def wait_for_card(world):
    emu = world.emulator
    return await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if buttons(m)), None), timeout=15)


async def test_drift_ask_is_acknowledged_quickly_and_posts_a_card(world) -> None:
    emu = world.emulator
    started = time.perf_counter()
    delivery = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    ack_seconds = time.perf_counter() - started
    assert delivery.status == 200
    assert ack_seconds < 3.0

    card = await wait_for_card(world)
    assert [b["text"]["text"] for b in buttons(card)] == ["Approve", "Reject"]
    assert card.text, "a card always carries a text fallback"
    text = block_text(card)
    assert "*Affected assets*\n" + str(len(drifted_prod_web_servers())) in text
    assert "production" in text and "Canary" in text
    assert not emu.warnings


async def test_whole_loop_refused_click_approval_run_and_double_click(world) -> None:
    emu, service = world.emulator, world.service
    expected = drifted_prod_web_servers()
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]
    plan = await service.get_plan(plan_id)
    assert sorted(plan.payload.affected_assets) == sorted(expected)
    assert plan.state == "awaiting_approval"

    # An outsider is refused privately and nothing changes.
    updates_before = len(emu.calls_to("chat.update"))
    await emu.click_button(OUTSIDER, OPS_CHANNEL, card.ts, "plan_approve")
    refusal = await emu.wait_for(lambda: next((m for m in emu.ephemerals(OUTSIDER) if "not allowed" in m.text), None))
    assert refusal.ephemeral_for == OUTSIDER
    assert (await service.get_plan(plan_id)).state == "awaiting_approval"
    assert await service.store.runs_for_plan(plan_id) == []
    assert len(emu.calls_to("chat.update")) == updates_before
    assert emu.thread(OPS_CHANNEL, card.ts) == []

    # Two approvers click at once (a double click): exactly one decision wins, one run starts.
    await asyncio.gather(
        emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve"),
        emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, "plan_approve"),
    )
    decided = await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and not buttons(m) and m)
    winner = (await service.get_plan(plan_id)).approval.decided_by
    loser = APPROVER_2 if winner == APPROVER_1 else APPROVER_1
    assert f"Approved by <@{winner}>" in block_text(decided)
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(loser) if "already approved" in m.text), None))

    # The run fills the card's thread, phase by phase.
    final = await emu.wait_for(
        lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=30
    )
    phases = plan.payload.phases
    assert f"{len(expected)} assets changed in {len(phases)}/{len(phases)} phases" in final.text
    replies = [m.text for m in emu.thread(OPS_CHANNEL, card.ts)]
    assert replies[0].startswith(":rocket: Run started")
    for number, phase in enumerate(phases, start=1):
        assert any(f"Phase {number}/{len(phases)} *{phase.name}* started" in r for r in replies)
        assert any(f"Phase {number}/{len(phases)} *{phase.name}* completed" in r for r in replies)
    assert len(replies) == 2 + 2 * len(phases)
    assert all(m.thread_ts == card.ts for m in emu.thread(OPS_CHANNEL, card.ts))
    assert len(await service.store.runs_for_plan(plan_id)) == 1
    decided = await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "Run completed" in block_text(m) and m)
    assert not buttons(decided), "the card shows how the run ended, without controls"

    # The simulate driver recorded the new versions: the fleet now reads as fixed.
    again = await service.dry_run(Ask.from_front(ASK, REQUESTER))
    assert again.kind == "no_change" and "No drift" in again.message

    # Every transition is in the audit log, and replaying it reproduces the stored states.
    timeline = await replay(service.store, plan.task_id)
    moves = [(e.entity_type, e.from_state, e.to_state) for e in timeline.entries if e.to_state]
    assert ("task", "parsing", "planned") in moves
    assert ("plan", "awaiting_approval", "approved") in moves
    assert ("run", "executing", "completed") in moves
    assert any(e.event == "plan.decision_refused" and e.actor == OUTSIDER for e in timeline.entries)
    assert timeline.consistent


async def test_reject_asks_for_a_reason_rewrites_the_card_and_starts_nothing(world) -> None:
    emu, service = world.emulator, world.service
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]

    await emu.click_button(OUTSIDER, OPS_CHANNEL, card.ts, "plan_reject")
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(OUTSIDER) if "not allowed" in m.text), None))
    assert emu.open_modal(OUTSIDER) is None

    await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, "plan_reject")
    modal = await emu.wait_for(lambda: emu.open_modal(APPROVER_2))
    assert modal["title"]["text"] == "Reject plan"
    assert (await service.get_plan(plan_id)).state == "awaiting_approval", "opening the modal decides nothing"
    await emu.submit_view(APPROVER_2, modal["id"], {"reason_input": "wait for the freeze to end"})

    decided = await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and not buttons(m) and m)
    assert f"Rejected by <@{APPROVER_2}>" in block_text(decided)
    assert "wait for the freeze to end" in block_text(decided)
    plan = await service.get_plan(plan_id)
    assert plan.state == "rejected" and plan.approval.reason == "wait for the freeze to end"
    assert await service.store.runs_for_plan(plan_id) == []


async def test_mention_gets_the_same_card(world) -> None:
    emu = world.emulator
    await emu.send_message(REQUESTER, OPS_CHANNEL, f"<@{emu.bot_user_id}> fix drift on staging web servers")
    card = await wait_for_card(world)
    assert "staging" in block_text(card)


async def test_nothing_drifted_is_a_plain_reply_without_card(world) -> None:
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on prod cache servers")
    reply = await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if "No drift" in m.text), None))
    assert not buttons(reply)
    assert await world.service.store.plans_by() == []


async def test_rollback_when_health_breaks_is_reported_in_the_thread(make_world) -> None:
    world = await make_world(fail_assets=[drifted_prod_web_servers()[1]])
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    final = await emu.wait_for(
        lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "rolled back" in m.text), None), timeout=30
    )
    assert "error_rate" in final.text
    run = (await world.service.store.runs_for_plan(buttons(card)[0]["value"]))[0]
    assert run.state == "rolled_back"
    fleet = await world.service.inventory.fleet()
    canary = run.phases[0].assets[0].asset_id
    assert fleet.is_drifted(fleet.by_id()[canary]), "rolled-back assets are back on their old version"


async def test_progress_survives_slack_rate_limits(make_world) -> None:
    world = await make_world(rate_limit=RateLimit(per_second=5.0, burst=2))
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on staging web servers")
    card = await wait_for_card(world)
    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=60)
    assert any(c.error == "ratelimited" for c in emu.calls), "the emulator did answer 429 at least once"
    plan = await world.service.get_plan(buttons(card)[0]["value"])
    texts = [m for m in emu.thread(OPS_CHANNEL, card.ts) if not m.raw.get("files")]  # the phase chart may follow
    assert len(texts) == 2 + 2 * len(plan.payload.phases)
