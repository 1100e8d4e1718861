"""OpsPilot in OAuth mode (HTTP, real Bolt) and a Slack emulator that plays Slack's install, both on loopback, and
the browser's part of an install, step by step over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.playground.emulator import APPROVER_1, APPROVER_2, SlackEmulator
from bot.server import Running, start
from core.config import WorkspaceConfig, load_config

SIGNING_SECRET = "oauth-test-signing-secret"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-test-client-secret"
STATE_SECRET = "oauth-test-state-secret"
COOKIE = "slack-app-oauth-state"


@dataclass
class OAuthWorld:
    emulator: SlackEmulator
    bot: Running
    key: str

    @property
    def service(self):
        return self.bot.service


def oauth_env(emulator: SlackEmulator, database: Path, key: str) -> dict[str, str]:
    return {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
        "SLACK_AUTHORIZE_URL": emulator.authorize_url,
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_STATE_SECRET": STATE_SECRET,
        "OPSPILOT_TOKEN_KEY": key,
        "DATABASE_URL": f"sqlite:///{database}",
    }


async def start_bot(
    emulator: SlackEmulator, database: Path, key: str, *, workspaces: dict[str, WorkspaceConfig] | None = None
) -> Running:
    """``workspaces``: each workspace's own rules (``workspaces`` in the config)."""
    config = load_config(env=oauth_env(emulator, database, key))
    config.approvers = [APPROVER_1, APPROVER_2]
    config.workspaces = dict(workspaces or {})
    config.executor.wait_scale = 0.0
    bot = await start(config, host="127.0.0.1", port=0)  # the mode follows the variables: http
    emulator.bot_url = f"{bot.url}/slack/events"
    emulator.oauth.redirect_url = f"{bot.url}/slack/oauth_redirect"  # type: ignore[union-attr]
    return bot


@dataclass
class Redirect:
    """Where Slack sent the browser back to, and the state cookie /slack/install set."""

    url: str
    cookie: str

    @property
    def code(self) -> str:
        return parse_qs(urlsplit(self.url).query)["code"][0]

    @property
    def state(self) -> str:
        return parse_qs(urlsplit(self.url).query)["state"][0]


async def begin_install(world: OAuthWorld, team: str | None = None) -> Redirect:
    """The browser: /slack/install, then Slack's authorize page (Allow), up to the redirect back (not followed)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        start_url = f"{world.bot.url}/slack/install" + (f"?team={team}" if team else "")
        async with http.get(start_url, allow_redirects=False) as answer:
            assert answer.status == 302, await answer.text()
            authorize = answer.headers["Location"]
            cookie = answer.cookies[COOKIE].value
        assert authorize.startswith(world.emulator.authorize_url)
        async with http.get(authorize, allow_redirects=False) as answer:
            assert answer.status == 302, await answer.text()
            return Redirect(answer.headers["Location"], cookie)


async def follow(redirect: Redirect | str, cookie: str | None = None) -> tuple[int, str]:
    """The browser arrives at OpsPilot's redirect URL (with the state cookie unless told otherwise)."""
    url = redirect.url if isinstance(redirect, Redirect) else redirect
    if cookie is None and isinstance(redirect, Redirect):
        cookie = redirect.cookie
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.get(url, headers=headers, allow_redirects=False) as answer,
    ):
        return answer.status, await answer.text()


async def install(world: OAuthWorld, team: str | None = None) -> tuple[int, str]:
    return await follow(await begin_install(world, team))
