"""A running OpsPilot (real server, HTTP mode, Slack emulator) with REST API tokens, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.bot.rest.support import TOKENS, ApiWorld


@pytest.fixture
async def make_api_world(make_world) -> AsyncIterator:
    """Worlds from tests/bot/conftest.py, started with OPSPILOT_API_TOKENS=TOKENS (or ``tokens=None``: unset)."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(tokens: str | None = TOKENS, **options: Any) -> ApiWorld:
        world = await make_world(env={"OPSPILOT_API_TOKENS": tokens} if tokens else None, **options)
        session = aiohttp.ClientSession(base_url=world.bot.url)
        sessions.append(session)
        return ApiWorld(world, session)

    try:
        yield make
    finally:
        for session in sessions:
            await session.close()


@pytest.fixture
async def api(make_api_world) -> ApiWorld:
    return await make_api_world()
