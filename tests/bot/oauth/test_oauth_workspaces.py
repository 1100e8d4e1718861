"""OAuth mode through Slack's protocol: each workspace approves by its own rules, and a click or a command from
another workspace neither sees nor changes a plan or a run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.blocks import APPROVE_ACTION
from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, REQUESTER, SlackEmulator
from bot.playground.seeds import SECOND_TEAM_ID, TEAM_ID
from core.config import WorkspaceConfig
from tests.bot.oauth.support import CLIENT_ID, CLIENT_SECRET, SIGNING_SECRET, OAuthWorld, install, start_bot

ASK = "fix drift on prod web servers"


@pytest.fixture
async def two_workspaces(tmp_path: Path) -> AsyncIterator[OAuthWorld]:
    emulator = SlackEmulator(
        signing_secret=SIGNING_SECRET, bot_token="xoxb-not-used", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    await emulator.start()
    key = Fernet.generate_key().decode()
    rules = {
        TEAM_ID: WorkspaceConfig.model_validate({"approvers": [APPROVER_1]}),
        SECOND_TEAM_ID: WorkspaceConfig.model_validate({"approvers": [APPROVER_2]}),
    }
    bot = await start_bot(emulator, tmp_path / "oauth.db", key, workspaces=rules)
    world = OAuthWorld(emulator, bot, key)
    try:
        assert (await install(world))[0] == 200
        assert (await install(world, SECOND_TEAM_ID))[0] == 200
        yield world
    finally:
        await world.bot.stop()
        await emulator.stop()


def _answers(emu: SlackEmulator, user: str, since: int) -> list[str]:
    return [m.text for m in emu.ephemerals(user)[since:]]


async def test_another_workspace_can_neither_approve_nor_see_a_plan_and_its_run(two_workspaces: OAuthWorld) -> None:
    world, emu = two_workspaces, two_workspaces.emulator
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK, team=TEAM_ID)
    card = await emu.wait_for(
        lambda: next((m for m in emu.messages(OPS_CHANNEL) if "Approve" in str(m.blocks)), None), timeout=20
    )
    (task,) = await world.service.queries.recent_tasks(org=TEAM_ID)
    (plan,) = await world.service.queries.plans_for_task(task.id)
    assert task.org_id == TEAM_ID

    # B's approver replays A's Approve button from workspace B: not found there, nothing recorded.
    seen = len(emu.ephemerals(APPROVER_2))
    await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, APPROVE_ACTION, team=SECOND_TEAM_ID)
    await emu.wait_for(lambda: _answers(emu, APPROVER_2, seen), timeout=10)
    assert "no longer exists" in _answers(emu, APPROVER_2, seen)[0] or "gone" in _answers(emu, APPROVER_2, seen)[0]
    assert (await world.service.get_plan(plan.id)).state == "awaiting_approval"
    assert await world.service.votes.for_version(plan.id, world.service.plan_hash(plan)) == []

    # Nor does B's approver count in workspace A: A's rules name only A's approver.
    seen = len(emu.ephemerals(APPROVER_2))
    await emu.click_button(APPROVER_2, OPS_CHANNEL, card.ts, APPROVE_ACTION, team=TEAM_ID)
    await emu.wait_for(lambda: _answers(emu, APPROVER_2, seen), timeout=10)
    assert (await world.service.get_plan(plan.id)).state == "awaiting_approval"

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, APPROVE_ACTION, team=TEAM_ID)
    assert (await world.service.get_plan(plan.id)).state == "approved"  # the vote commits before the ack
    (run,) = await world.service.queries.recent_runs(None, org=TEAM_ID)
    assert await world.service.queries.recent_runs(None, org=SECOND_TEAM_ID) == []

    # /ops runs and /ops status from B show nothing of A's.
    seen = len(emu.ephemerals(REQUESTER))
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "runs", team=SECOND_TEAM_ID)
    await emu.wait_for(lambda: _answers(emu, REQUESTER, seen), timeout=10)
    assert run.run_id[:8] not in _answers(emu, REQUESTER, seen)[0]
    seen = len(emu.ephemerals(REQUESTER))
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", f"status {run.run_id}", team=SECOND_TEAM_ID)
    await emu.wait_for(lambda: _answers(emu, REQUESTER, seen), timeout=10)
    assert "no run" in _answers(emu, REQUESTER, seen)[0], "another workspace's run is unknown there"
    seen = len(emu.ephemerals(REQUESTER))
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", f"status {run.run_id}", team=TEAM_ID)
    await emu.wait_for(lambda: _answers(emu, REQUESTER, seen), timeout=10)
    assert "no run" not in _answers(emu, REQUESTER, seen)[0]

    seen = len(emu.ephemerals(REQUESTER))
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "runs", team=TEAM_ID)
    await emu.wait_for(lambda: _answers(emu, REQUESTER, seen), timeout=10)
    assert run.run_id[:8] in _answers(emu, REQUESTER, seen)[0]
