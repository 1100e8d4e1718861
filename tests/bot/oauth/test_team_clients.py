"""The outbox's per-workspace clients: the workspace's own bot token from the store, cached briefly, and a clear
refusal (dead letter, no retry) for a task of a workspace that has no installation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.oauth.installation_store import OpsPilotInstallationStore
from bot.oauth.team_clients import TeamClients
from core.errors import DeliveryRejected
from core.store import Database
from core.store.installations import Installations
from core.token_crypto import TokenCipher


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'teams.db'}")
    await database.upgrade()
    try:
        yield OpsPilotInstallationStore(Installations(database, TokenCipher.from_key(Fernet.generate_key().decode())), "1.2")
    finally:
        await database.dispose()


async def _install(store: OpsPilotInstallationStore, team: str, token: str) -> None:
    await store.async_save(
        Installation(
            team_id=team, bot_token=token, bot_id="B0", bot_user_id="U0BOT", user_id="U0A", installed_at=datetime.now(UTC)
        )
    )


async def test_each_workspace_gets_its_own_token_cached_for_a_while(store: OpsPilotInstallationStore) -> None:
    await _install(store, "T0A", "xoxb-a")
    await _install(store, "T0B", "xoxb-b")
    clock = Clock()
    teams = TeamClients(store, lambda token: AsyncWebClient(token=token), ttl=60, clock=clock)

    a, b = await teams.client("T0A"), await teams.client("T0B")
    assert (a.token, b.token) == ("xoxb-a", "xoxb-b")
    await _install(store, "T0A", "xoxb-a2")  # reinstalled
    assert await teams.client("T0A") is a  # within the minute: the cached client
    clock.now = 61
    assert (await teams.client("T0A")).token == "xoxb-a2"


async def test_a_workspace_without_an_installation_is_a_dead_letter(store: OpsPilotInstallationStore) -> None:
    teams = TeamClients(store, lambda token: AsyncWebClient(token=token))
    with pytest.raises(DeliveryRejected, match="not installed in Slack workspace T0NONE"):
        await teams.client("T0NONE")
    with pytest.raises(DeliveryRejected, match="names no Slack workspace"):
        await teams.client(None)
