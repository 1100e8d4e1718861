"""The emulator's side of an OAuth install, through slack_sdk as Bolt calls it: the authorize page redirects with a
code, oauth.v2.access checks the app's credentials and takes each code once, and the token it issues works for its
own workspace only (auth.test answers per token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.emulator import SlackEmulator
from bot.playground.seeds import SECOND_TEAM_ID, TEAM_ID


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret="s", bot_token="xoxb-seeded", client_id="1.2", client_secret="shh")
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def test_allow_redirects_with_a_code_for_the_chosen_workspace(emulator: SlackEmulator) -> None:
    url = f"{emulator.authorize_url}?client_id=1.2&scope=commands&state=st4te&team={SECOND_TEAM_ID}&redirect_uri=http://app/cb"
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as answer:
        assert answer.status == 302
        location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://app/cb"
    query = parse_qs(location.query)
    assert query["state"] == ["st4te"] and query["code"][0].startswith(SECOND_TEAM_ID)

    async with (
        aiohttp.ClientSession() as http,
        http.get(url.replace("client_id=1.2", "client_id=9"), allow_redirects=False) as answer,
    ):
        assert answer.status == 400 and "invalid_client_id" in await answer.text()


async def test_a_code_works_once_and_its_token_only_for_its_workspace(emulator: SlackEmulator) -> None:
    client = AsyncWebClient(base_url=emulator.api_url)
    code = emulator.oauth.mint_code(SECOND_TEAM_ID, scope="commands,chat:write")  # type: ignore[union-attr]
    with pytest.raises(SlackApiError) as refused:
        await client.oauth_v2_access(client_id="1.2", client_secret="wrong", code=code)
    assert refused.value.response["error"] == "bad_client_secret"

    granted = await client.oauth_v2_access(client_id="1.2", client_secret="shh", code=code)
    assert granted["team"] == {"id": SECOND_TEAM_ID, "name": "Second Workspace"}
    assert granted["access_token"].startswith("xoxb-") and granted["scope"] == "commands,chat:write"
    assert granted["bot_user_id"] == emulator.bot_user_id and granted["app_id"] == emulator.app_id
    assert granted["authed_user"]["id"]
    with pytest.raises(SlackApiError) as replayed:
        await client.oauth_v2_access(client_id="1.2", client_secret="shh", code=code)
    assert replayed.value.response["error"] == "invalid_code"
    assert "shh" not in str([c.params for c in emulator.calls])  # the secret is not recorded

    assert (await client.auth_test(token=granted["access_token"]))["team_id"] == SECOND_TEAM_ID
    assert (await client.auth_test(token="xoxb-seeded"))["team_id"] == TEAM_ID
    with pytest.raises(SlackApiError) as unknown:
        await client.auth_test(token="xoxb-made-up")
    assert unknown.value.response["error"] == "invalid_auth"
    assert [c.team for c in emulator.calls_to("auth.test")][:2] == [SECOND_TEAM_ID, TEAM_ID]
