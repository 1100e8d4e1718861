"""OAuth mode's wiring: Bolt's ``AsyncOAuthSettings`` over OpsPilot's stores, the pages the install ends on, and the
two routes (``GET /slack/install``, ``GET /slack/oauth_redirect``) on OpsPilot's aiohttp server.

``/slack/install`` issues a state (kept in the database, set as a cookie) and redirects the browser to Slack's
authorize page (``SLACK_AUTHORIZE_URL``); Slack sends it back to ``/slack/oauth_redirect`` with a one-use code, which
Bolt exchanges with ``oauth.v2.access`` (on ``SLACK_API_URL``) and saves, tokens sealed. Every failure (bad, missing,
expired or replayed state, a refused code) answers a 400 page that says why and changes nothing.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import messages
from bot.oauth.installation_store import OpsPilotInstallationStore
from bot.oauth.state_store import OpsPilotStateStore
from core.clock import SYSTEM_CLOCK, Clock
from core.config import SlackSecrets
from core.errors import ConfigError
from core.store.installations import Installations

logger = logging.getLogger(__name__)

INSTALL_PATH = messages.INSTALL_PATH
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600
# The bot scopes an install asks for: manifest.yml's oauth_config.scopes.bot (tests/bot/test_oauth_flow.py checks).
BOT_SCOPES = ("app_mentions:read", "chat:write", "commands", "channels:history", "groups:history", "files:write")
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto"><h1>{title}</h1><p>{text}</p></body></html>
"""


def oauth_settings(slack: SlackSecrets, installations: Installations, clock: Clock = SYSTEM_CLOCK) -> AsyncOAuthSettings:
    """Bolt's settings for OAuth mode (``slack.oauth`` must hold)."""
    if slack.client_id is None or slack.client_secret is None or slack.state_secret is None:
        raise ConfigError("OAuth mode needs SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET")
    state_utils_cookie = "slack-app-oauth-state"
    return AsyncOAuthSettings(
        client_id=slack.client_id,
        client_secret=slack.client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        install_path=INSTALL_PATH,
        install_page_rendering_enabled=False,  # straight to Slack's authorize page
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=slack.authorize_url,
        callback_options=AsyncCallbackOptions(success=_succeeded, failure=_failed),
        installation_store=OpsPilotInstallationStore(installations, slack.client_id),
        state_store=OpsPilotStateStore(
            installations, slack.state_secret.get_secret_value(), expiration_seconds=STATE_SECONDS, clock=clock
        ),
        state_cookie_name=state_utils_cookie,
        state_expiration_seconds=STATE_SECONDS,
        logger=logger,
    )


def _page(status: int, title: str, text: str, headers: dict[str, str | list[str]] | None = None) -> BoltResponse:
    body = PAGE.format(title=html.escape(title), text=html.escape(text))
    return BoltResponse(status=status, body=body, headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})})


async def _succeeded(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    logger.info("OpsPilot installed to team %s (%s)", installation.team_id, installation.team_name)
    forget_state = args.settings.state_utils.build_set_cookie_for_deletion()
    return _page(
        200, messages.INSTALLED_TITLE, messages.install_succeeded(installation.team_name), {"Set-Cookie": [forget_state]}
    )


async def _failed(args: AsyncFailureArgs) -> BoltResponse:
    """Bad input, never a 5xx: the page says why and what works (start again from /slack/install)."""
    logger.warning("OAuth install refused: %s", args.reason)
    return _page(400, messages.NOT_INSTALLED_TITLE, messages.install_failed(args.reason))


def oauth_routes(app: web.Application, flow: AsyncOAuthFlow) -> None:
    """``GET /slack/install`` and ``GET /slack/oauth_redirect`` through Bolt's flow."""

    async def install(request: web.Request) -> web.Response:
        try:
            response = await flow.handle_installation(_bolt_request(request))
        except Exception:
            logger.exception("could not start an OAuth install")
            response = _page(400, messages.NOT_INSTALLED_TITLE, messages.install_failed("storage_error"))
        return await to_aiohttp_response(response)

    async def redirect(request: web.Request) -> web.Response:
        try:
            response = await flow.handle_callback(_bolt_request(request))
        except Exception:
            logger.exception("OAuth redirect failed")
            response = _page(400, messages.NOT_INSTALLED_TITLE, messages.install_failed("storage_error"))
        if response.status >= 500:  # a storage error: still the user's page, never a 5xx
            response = _page(400, messages.NOT_INSTALLED_TITLE, messages.install_failed("storage_error"))
        return await to_aiohttp_response(response)

    app.router.add_get(INSTALL_PATH, install)
    app.router.add_get(REDIRECT_PATH, redirect)


def _bolt_request(request: web.Request) -> AsyncBoltRequest:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return AsyncBoltRequest(body="", query=request.query_string, headers=dict(headers))
