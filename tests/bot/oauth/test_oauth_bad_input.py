"""An OAuth redirect that cannot be trusted (a bad, missing, expired or replayed state, another browser, a replayed or
refused code) changes nothing and answers a 4xx page that says why and to start again from /slack/install."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select

from bot.oauth.state_store import OpsPilotStateStore
from bot.playground.seeds import TEAM_ID
from core.clock import ManualClock
from core.store.tables import slack_bots, slack_installations
from tests.bot.oauth.support import OAuthWorld, begin_install, follow, install


async def _snapshot(world: OAuthWorld) -> list[tuple]:
    async with world.service.store.database.engine.connect() as conn:
        rows = [tuple(r) for r in await conn.execute(select(slack_installations))]
        return rows + [tuple(r) for r in await conn.execute(select(slack_bots))]


def _refused(status: int, page: str, why: str) -> None:
    assert 400 <= status < 500, (status, page)
    assert why in page and "Nothing was installed or changed. Start again from /slack/install." in page, page


async def test_a_forged_or_missing_state_changes_nothing(oauth_world: OAuthWorld) -> None:
    world = oauth_world
    redirect = await begin_install(world)
    before = await _snapshot(world)
    base = f"{world.bot.url}/slack/oauth_redirect"

    forged = f"{base}?{urlencode({'code': redirect.code, 'state': 'made-up.state'})}"
    _refused(*await follow(forged, cookie="made-up.state"), "not valid any more")
    _refused(*await follow(f"{base}?{urlencode({'code': redirect.code})}"), "another browser")
    _refused(*await follow(redirect.url, cookie="someone-elses-state"), "another browser")
    _refused(*await follow(f"{base}?error=access_denied&state={redirect.state}", redirect.cookie), "cancelled in Slack")
    _refused(*await follow(f"{base}?state={redirect.state}", redirect.cookie), "did not send an authorization code")
    assert await _snapshot(world) == before == []


async def test_an_expired_state_changes_nothing(oauth_world: OAuthWorld) -> None:
    world = oauth_world
    redirect = await begin_install(world)
    store = world.bot.bolt.oauth_flow.settings.state_store  # type: ignore[union-attr]
    assert isinstance(store, OpsPilotStateStore)
    clock = ManualClock()
    store.clock = clock
    clock.advance(11 * 60)  # install links last 10 minutes
    _refused(*await follow(redirect), "expired")
    assert await _snapshot(world) == []


async def test_a_replayed_state_or_code_changes_nothing(oauth_world: OAuthWorld) -> None:
    world, emu = oauth_world, oauth_world.emulator
    first = await begin_install(world)
    assert (await follow(first))[0] == 200
    installed = await _snapshot(world)
    token = emu.oauth.issued[TEAM_ID]  # type: ignore[union-attr]

    _refused(*await follow(first), "already used")  # the same redirect again: its state is spent

    # A fresh, valid state with the first install's code: Slack refuses the code, nothing is written.
    second = await begin_install(world)
    replayed_code = f"{world.bot.url}/slack/oauth_redirect?{urlencode({'code': first.code, 'state': second.state})}"
    _refused(*await follow(replayed_code, second.cookie), "refused the authorization code")
    assert emu.calls_to("oauth.v2.access")[-1].error == "invalid_code"
    assert await _snapshot(world) == installed and emu.oauth.issued[TEAM_ID] == token  # type: ignore[union-attr]

    # The second state was consumed by that attempt: its own code cannot be used with it now either.
    _refused(*await follow(second), "already used")
    assert await _snapshot(world) == installed


async def test_a_reinstall_replaces_the_workspaces_token(oauth_world: OAuthWorld) -> None:
    world, emu = oauth_world, oauth_world.emulator
    assert (await install(world))[0] == 200
    first = emu.oauth.issued[TEAM_ID]  # type: ignore[union-attr]
    assert (await install(world))[0] == 200
    assert emu.oauth.issued[TEAM_ID] != first
    assert len(await _snapshot(world)) == 2  # still one installation and one bot
