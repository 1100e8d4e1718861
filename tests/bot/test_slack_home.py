"""The App Home per viewer, `/ops approvals` and `/ops audit ID`, through Slack's protocol (the emulator)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.playground.emulator import APPROVER_1, APPROVER_2, APPROVERS_GROUP, OPS_CHANNEL, OUTSIDER, REQUESTER
from tests.bot.test_slack_loop import ASK, block_text, buttons, wait_for_card


def home_buttons(view: dict) -> list[dict]:
    return [e for b in view.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


def home_text(view: dict) -> str:
    return json.dumps(view)


async def open_home(emu, user: str) -> dict:
    before = len(emu.calls_to("views.publish"))
    await emu.open_home(user)
    await emu.wait_for(lambda: len(emu.calls_to("views.publish")) > before)
    view = emu.home_view(user)
    assert view is not None
    return view


async def ephemeral_after(emu, user: str, text: str):
    before = len(emu.ephemerals(user))
    delivery = await emu.send_slash_command(user, OPS_CHANNEL, "/ops", text)
    assert delivery.status == 200
    return await emu.wait_for(lambda: emu.ephemerals(user)[before] if len(emu.ephemerals(user)) > before else None)


def _group_rule(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "rules.yaml"
    rule = {"match": {"environment": "production"}, "approvers": {"groups": [APPROVERS_GROUP]}, "required": 2}
    path.write_text(json.dumps({"approvals": {"rules": [rule]}}), encoding="utf-8")
    return {"OPSPILOT_CONFIG": str(path)}


async def test_viewers_see_their_own_homes_and_a_waiting_plan_only_when_they_may_approve_it(make_world, tmp_path) -> None:
    world = await make_world(env=_group_rule(tmp_path))  # two of the approvers' user group must approve
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]

    requester = await open_home(emu, REQUESTER)
    assert ASK in home_text(requester) and f"plan `{plan_id[:8]}`" in home_text(requester), "the requester sees their request"
    assert "No asks yet" not in home_text(requester)
    assert home_buttons(requester) == [] and "Nothing waits for your approval" in home_text(requester)

    approver = await open_home(emu, APPROVER_1)  # a member of the group, through usergroups.users.list
    assert [(b["action_id"], b["value"]) for b in home_buttons(approver)] == [("plan_approve", plan_id), ("plan_reject", plan_id)]
    assert "Waiting for you* (1)" in home_text(approver)
    assert "No asks yet" in home_text(approver), "someone else's request is not listed as theirs"

    outsider = await open_home(emu, OUTSIDER)
    assert home_buttons(outsider) == [] and plan_id[:8] not in home_text(outsider) and "No asks yet" in home_text(outsider)

    # A vote from the home counts like one on the card; the plan no longer waits for that approver, but for the other.
    await emu.click_view_button(APPROVER_1, approver["id"], "plan_approve")
    await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "1 of 2" in block_text(m))
    refreshed = await emu.wait_for(lambda: (v := emu.home_view(APPROVER_1)) and not home_buttons(v) and v)
    assert "Nothing waits for your approval" in home_text(refreshed)
    other = await open_home(emu, APPROVER_2)
    assert [b["value"] for b in home_buttons(other)] == [plan_id, plan_id]
    assert (await world.service.get_plan(plan_id)).state == "awaiting_approval"


async def test_approve_from_the_home_starts_the_run_and_the_home_shows_it(world) -> None:
    emu, service = world.emulator, world.service
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]
    home = await open_home(emu, APPROVER_1)

    await emu.click_view_button(APPROVER_1, home["id"], "plan_approve")
    await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "Approved by" in block_text(m))
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=30)
    assert (await service.get_plan(plan_id)).approval.decided_by == APPROVER_1
    await service.executor.wait_idle(20)

    approver = await open_home(emu, APPROVER_1)
    run_id = (await service.queries.card_context(plan_id)).run.id
    assert home_buttons(approver) == [] and f"run `{run_id[:8]}`" in home_text(approver)
    requester = await open_home(emu, REQUESTER)
    assert f"run `{run_id[:8]}`" in home_text(requester), "the requester sees the run of their request"
    assert f"run `{run_id[:8]}`" not in home_text(await open_home(emu, OUTSIDER))


async def test_a_refused_click_from_the_home_says_why_in_the_home(world) -> None:
    emu, service = world.emulator, world.service
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]
    home = await open_home(emu, APPROVER_1)
    await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, "plan_approve")  # decided on the card meanwhile
    await emu.wait_for(lambda: (m := emu.find_message(OPS_CHANNEL, card.ts)) and "Approved by" in block_text(m))

    await emu.click_view_button(APPROVER_1, home["id"], "plan_approve")
    refreshed = await emu.wait_for(lambda: (v := emu.home_view(APPROVER_1)) and "already decided" in home_text(v) and v)
    assert home_buttons(refreshed) == []
    assert (await service.get_plan(plan_id)).approval.decided_by == APPROVER_2


async def test_ops_approvals_lists_what_waits_for_me_privately(world) -> None:
    emu = world.emulator
    nothing = await ephemeral_after(emu, APPROVER_1, "approvals")
    assert "Nothing waits for your approval" in nothing.text

    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]
    answer = await ephemeral_after(emu, APPROVER_1, "approvals")
    assert answer.ephemeral_for == APPROVER_1
    assert "1 plan waits for you" in answer.text and f"plan `{plan_id[:8]}`" in answer.text
    assert f"card in <#{card.channel}>" in answer.text
    assert f"asked by <@{REQUESTER}>" in answer.text
    assert "Nothing waits" in (await ephemeral_after(emu, OUTSIDER, "approvals")).text
    assert len([m for m in emu.messages(OPS_CHANNEL) if buttons(m)]) == 1, "no ask was planned"


async def test_ops_audit_with_an_id_shows_who_did_what_privately(world) -> None:
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    plan_id = buttons(card)[0]["value"]
    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), timeout=30)
    await world.service.executor.wait_idle(20)

    answer = await ephemeral_after(emu, OUTSIDER, f"audit {plan_id}")
    assert answer.ephemeral_for == OUTSIDER
    text = answer.text
    assert "Audit trail of task" in text and f"<@{REQUESTER}>" in text and f"<@{APPROVER_1}>" in text
    assert "awaiting_approval → approved" in text and "run `" in text
    assert "Replaying the log leads to the stored states" in text
    run_id = (await world.service.queries.card_context(plan_id)).run.id
    by_run = await ephemeral_after(emu, OUTSIDER, f"audit {run_id[:8]}")
    assert by_run.text.splitlines()[0] == text.splitlines()[0], "a run id (or its prefix) leads to the same task"


async def test_ops_audit_followed_by_words_is_an_ask_for_the_planner(world) -> None:
    emu = world.emulator
    before = len(emu.messages(OPS_CHANNEL))
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "audit our CIS controls in prod")
    report = await emu.wait_for(lambda: emu.messages(OPS_CHANNEL)[before] if len(emu.messages(OPS_CHANNEL)) > before else None)
    assert "Compliance report" in report.text
    assert not any("Audit trail" in m.text for m in emu.ephemerals(REQUESTER))
    tasks = await world.service.queries.recent_tasks()
    assert [t.user_intent for t in tasks] == ["audit our CIS controls in prod"]


async def test_ops_audit_with_an_unknown_id_is_an_ask_too(world) -> None:
    emu = world.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "audit 0123456789abcdef")
    await emu.wait_for(lambda: next(iter(emu.messages(OPS_CHANNEL)), None))  # the planner answered in the channel
    assert not any("Audit trail" in m.text for m in emu.ephemerals(REQUESTER))
    assert [t.user_intent for t in await world.service.queries.recent_tasks()] == ["audit 0123456789abcdef"]
