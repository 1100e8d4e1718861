"""OAuth mode end to end against the emulator, over real HTTP: /slack/install → Slack's authorize page → the
redirect → oauth.v2.access → the installation stored sealed; then requests from that workspace are handled with its
own bot token, and each task's card goes out with the token of the workspace it came from."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.oauth.flow import BOT_SCOPES
from bot.playground.emulator import OPS_CHANNEL, REQUESTER
from bot.playground.seeds import SECOND_TEAM_ID, TEAM_ID
from core.store.tables import slack_bots, slack_installations
from tests.bot.oauth.support import OAuthWorld, install
from tests.test_manifest import MANIFEST


async def _rows(world: OAuthWorld) -> list[dict]:
    async with world.service.store.database.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(slack_installations).order_by(slack_installations.c.id))]


async def test_an_install_stores_the_workspace_sealed_and_its_requests_use_its_token(
    oauth_world: OAuthWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world, emu = oauth_world, oauth_world.emulator
    status, page = await install(world)
    assert status == 200 and "OpsPilot is installed to Playground" in page

    token = emu.oauth.issued[TEAM_ID]  # type: ignore[union-attr]
    assert token.startswith("xoxb-")
    (row,) = await _rows(world)
    assert row["team_id"] == TEAM_ID and row["team_name"] == "Playground" and row["bot_user_id"] == emu.bot_user_id
    assert token not in str(row) and Fernet(world.key.encode()).decrypt(row["bot_token"].encode()).decode() == token
    assert set(row["bot_scopes"].split(",")) == set(BOT_SCOPES)  # the scopes the install asked for

    answer = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "help")
    assert answer.status == 200 and "turns an ask into a reviewed, phased plan" in str(answer.body)
    # Bolt's authorize checked the workspace's own token (auth.test answered for that workspace).
    assert [c.team for c in emu.calls_to("auth.test")][-1] == TEAM_ID
    assert "installed to team T0PLAYGRND" in caplog.text and token not in caplog.text  # logged, never the token


async def test_two_workspaces_get_their_own_tokens_and_a_task_of_b_is_posted_with_bs(oauth_world: OAuthWorld) -> None:
    world, emu = oauth_world, oauth_world.emulator
    assert (await install(world))[0] == 200
    status, page = await install(world, SECOND_TEAM_ID)
    assert status == 200 and "Second Workspace" in page
    issued = emu.oauth.issued  # type: ignore[union-attr]
    assert issued[TEAM_ID] != issued[SECOND_TEAM_ID]
    assert {r["team_id"] for r in await _rows(world)} == {TEAM_ID, SECOND_TEAM_ID}

    seen = len(emu.calls_to("chat.postMessage"))
    answer = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on prod web servers", team=SECOND_TEAM_ID)
    assert answer.status == 200
    card = await emu.wait_for(lambda: emu.calls_to("chat.postMessage")[seen:], timeout=20)
    assert card[0].ok and card[0].team == SECOND_TEAM_ID  # the outbox posted B's card with B's token
    assert [c.team for c in emu.calls_to("auth.test")][-1] == SECOND_TEAM_ID

    seen = len(emu.calls_to("chat.postMessage"))
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on staging web servers", team=TEAM_ID)
    card = await emu.wait_for(lambda: emu.calls_to("chat.postMessage")[seen:], timeout=20)
    assert card[0].ok and card[0].team == TEAM_ID

    # An answer that is not a card ("nothing to change", in the channel) also goes out with the asker's workspace.
    seen = len(emu.calls_to("chat.postMessage"))
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on prod cache servers", team=SECOND_TEAM_ID)
    answer = await emu.wait_for(lambda: emu.calls_to("chat.postMessage")[seen:], timeout=20)
    assert answer[0].ok and answer[0].team == SECOND_TEAM_ID, answer


async def test_a_workspace_that_never_installed_is_told_to_install(oauth_world: OAuthWorld) -> None:
    world, emu = oauth_world, oauth_world.emulator
    assert (await install(world))[0] == 200
    answer = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "help", team=SECOND_TEAM_ID)
    assert answer.status == 200  # answered through the command's response URL
    await emu.wait_for(
        lambda: any("no working installation" in m.text and "/slack/install" in m.text for m in emu.ephemerals(REQUESTER))
    )
    assert not [c for c in emu.calls if c.team == SECOND_TEAM_ID]


async def test_the_install_asks_for_the_manifests_scopes_and_the_manifest_names_the_redirect() -> None:
    assert set(BOT_SCOPES) == set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert [u.split("/", 3)[-1] for u in MANIFEST["oauth_config"]["redirect_urls"]] == ["slack/oauth_redirect"]


async def test_a_restart_with_another_key_says_to_install_again_instead_of_failing(oauth_world: OAuthWorld, tmp_path) -> None:
    from tests.bot.oauth.support import start_bot

    world, emu = oauth_world, oauth_world.emulator
    assert (await install(world))[0] == 200
    database = world.service.store.database.url.split("///", 1)[1]
    await world.bot.stop()
    world.bot = await start_bot(emu, database, Fernet.generate_key().decode())  # type: ignore[arg-type]
    answer = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "help")
    assert answer.status == 200
    await emu.wait_for(lambda: any("no working installation" in m.text for m in emu.ephemerals(REQUESTER)))
    async with world.service.store.database.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(slack_bots))).scalar() == 1  # nothing was dropped
