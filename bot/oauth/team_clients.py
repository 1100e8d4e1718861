"""OAuth mode's Web API clients per workspace, for the outbox's Slack subscriber: the bot token of the workspace a task
came from (its origin's ``team``), looked up in the installation store and kept in memory for a minute, never on disk
in clear.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.oauth.installation_store import OpsPilotInstallationStore
from core.errors import DeliveryRejected

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0


class TeamClients:
    """``client(team_id)``: a client holding that workspace's bot token (``make_client(token)`` builds it)."""

    def __init__(
        self,
        installations: OpsPilotInstallationStore,
        make_client: Callable[[str], AsyncWebClient],
        *,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.installations = installations
        self.make_client = make_client
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, AsyncWebClient]] = {}

    async def client(self, team_id: str | None) -> AsyncWebClient:
        """DeliveryRejected when the task names no workspace or the workspace has no (readable) installation: no
        retry can post there until someone installs OpsPilot again."""
        if not team_id:
            raise DeliveryRejected("the task names no Slack workspace (team), so no installation's token can post its card")
        cached = self._cache.get(team_id)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None:
            installation = await self.installations.async_find_installation(enterprise_id=None, team_id=team_id)
            token = installation.bot_token if installation is not None else None
        else:
            token = bot.bot_token
        if not token:
            raise DeliveryRejected(f"OpsPilot is not installed in Slack workspace {team_id} (install it from /slack/install)")
        client = self.make_client(token)
        self._cache[team_id] = (self.clock(), client)
        return client

    def forget(self, team_id: str) -> None:
        """Drop the cached client (the workspace uninstalled OpsPilot or its token was revoked)."""
        self._cache.pop(team_id, None)
