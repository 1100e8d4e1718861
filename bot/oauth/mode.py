"""OAuth mode's parts, built once at start (bot/server.py): Bolt's settings over the database's stores, and the
per-workspace clients the outbox's Slack subscriber posts with."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings

from bot.oauth.flow import oauth_settings
from bot.oauth.installation_store import OpsPilotInstallationStore
from bot.oauth.team_clients import TeamClients
from bot.slack_limits import SharedRateLimits, delivery_client
from core.config import Config
from core.errors import ConfigError
from core.service import OpsPilot
from core.token_crypto import TokenCipher


@dataclass(frozen=True)
class OAuthMode:
    settings: AsyncOAuthSettings
    installations: OpsPilotInstallationStore
    teams: TeamClients


def oauth_mode(config: Config, service: OpsPilot, limits: SharedRateLimits | None = None) -> OAuthMode:
    if config.slack.token_key is None:
        raise ConfigError("OAuth mode needs OPSPILOT_TOKEN_KEY (docs/slack-oauth.md)")
    cipher = TokenCipher.from_key(config.slack.token_key.get_secret_value())
    settings = oauth_settings(config.slack, service.queries.installations(cipher), service.clock)
    store = settings.installation_store
    assert isinstance(store, OpsPilotInstallationStore)
    api_url = config.slack.api_url
    teams = TeamClients(store, lambda token: delivery_client(token, api_url, limits))
    return OAuthMode(settings, store, teams)
