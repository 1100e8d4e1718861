"""Slack's side of an OAuth v2 install, for the emulator: the authorize page and ``oauth.v2.access``.

``GET /oauth/v2/authorize?client_id=…&scope=…&state=…[&redirect_uri=…][&team=T…]`` plays the person clicking
*Allow*: it mints a one-use code for the workspace (``team``, default the playground's) and redirects to the
redirect URL with ``code`` and ``state``, as Slack does. ``oauth.v2.access`` checks the client id and secret, takes
each code once (a replayed or unknown code answers ``invalid_code``) and answers like Slack: the team, a bot token
(``xoxb-…``, valid for that workspace from then on), the bot user, the scopes, the installing user and the app id.

Tests can mint a code without the redirect: ``emulator.oauth.mint_code(team_id)``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from bot.playground.seeds import APP_ID, APPROVER_1, BOT_USER_ID, TEAM_ID, TEAMS
from bot.playground.web_api import ApiError, Params, WebApi

AUTHORIZE_PATH = "/oauth/v2/authorize"


@dataclass
class _Code:
    team_id: str
    user: str
    scope: str
    redirect_uri: str | None


class OAuthServer:
    def __init__(self, web_api: WebApi, client_id: str, client_secret: str, *, redirect_url: str | None = None) -> None:
        self.web_api = web_api
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_url = redirect_url  # the app's configured redirect URL (used when the request names none)
        self._codes: dict[str, _Code] = {}
        self.issued: dict[str, str] = {}  # team id → the bot token its latest install got
        web_api.add_client_method("oauth.v2.access", self.access)

    def register(self, app: web.Application) -> None:
        app.router.add_get(AUTHORIZE_PATH, self.authorize)

    def mint_code(
        self, team_id: str = TEAM_ID, *, user: str = APPROVER_1, scope: str = "", redirect_uri: str | None = None
    ) -> str:
        if team_id not in TEAMS:
            raise LookupError(f"unknown team {team_id!r}; known: {sorted(TEAMS)}")
        code = f"{team_id}.{secrets.token_hex(12)}"
        self._codes[code] = _Code(team_id, user, scope, redirect_uri)
        return code

    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id: this app is not known to the workspace")
        team_id = query.get("team") or TEAM_ID
        if team_id not in TEAMS:
            return web.Response(status=400, text=f"unknown team {team_id}")
        redirect_uri = query.get("redirect_uri") or self.redirect_url
        if not redirect_uri:
            return web.Response(status=400, text="bad_redirect_uri: no redirect URL given or configured")
        code = self.mint_code(team_id, scope=query.get("scope", ""), redirect_uri=query.get("redirect_uri"))
        target = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode({"code": code, "state": query.get("state", "")})
        raise web.HTTPFound(target)

    def access(self, params: Params) -> Params:
        if params.get("client_id") != self.client_id:
            raise ApiError("invalid_client_id")
        if params.get("client_secret") != self.client_secret:
            raise ApiError("bad_client_secret")
        code = self._codes.pop(str(params.get("code") or ""), None)  # one use: gone once tried
        if code is None:
            raise ApiError("invalid_code")
        if code.redirect_uri is not None and params.get("redirect_uri") not in (None, code.redirect_uri):
            raise ApiError("bad_redirect_uri")
        token = f"xoxb-{code.team_id.lower()}-{secrets.token_hex(12)}"
        self.web_api.add_team_token(token, code.team_id)
        self.issued[code.team_id] = token
        name, _domain = TEAMS[code.team_id]
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": code.scope or "commands,chat:write",
            "bot_user_id": BOT_USER_ID,
            "app_id": APP_ID,
            "team": {"id": code.team_id, "name": name},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": code.user},
        }
