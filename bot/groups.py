"""Slack user groups for approval rules: ``usergroups.users.list`` through the bot's client, cached for a minute.

An API error fails closed: the group counts nobody in, and the refusal names the error (core.approvals.groups).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.approvals.groups import GroupLookupFailed
from core.errors import OpsPilotError

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0


class SlackGroupDirectory:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        client_for: Callable[[str], Awaitable[AsyncWebClient]] | None = None,
    ) -> None:
        self.client = client
        self.client_for = client_for  # OAuth mode: a client with the workspace's bot token (bot/oauth TeamClients)
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def members(self, group_id: str, workspace: str | None = None) -> frozenset[str]:
        """``workspace``: OAuth mode, the team whose group it is; read with that team's bot token (``client_for``)."""
        cache_key = f"{workspace or ''}:{group_id}"
        cached = self._cache.get(cache_key)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        client = self.client
        if workspace is not None and self.client_for is not None:
            try:
                client = await self.client_for(workspace)
            except OpsPilotError as exc:  # not installed there (any more): nobody counts in
                raise GroupLookupFailed(group_id, str(exc)) from exc
        try:
            response = await client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error") if exc.response is not None else "unknown_error"
            raise GroupLookupFailed(group_id, f"Slack answered {error}") from exc
        except Exception as exc:  # a network failure must not let anyone in either
            raise GroupLookupFailed(group_id, f"Slack could not be reached ({type(exc).__name__})") from exc
        users = response.get("users")
        if not isinstance(users, list):
            raise GroupLookupFailed(group_id, "Slack's answer had no member list")
        members = frozenset(str(u) for u in users)
        self._cache[cache_key] = (self.clock(), members)
        return members
