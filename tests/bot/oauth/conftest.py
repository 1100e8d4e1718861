"""The OAuth-mode world (tests/bot/oauth/support.py): OpsPilot and the Slack emulator, stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.playground.emulator import SlackEmulator
from tests.bot.oauth.support import CLIENT_ID, CLIENT_SECRET, SIGNING_SECRET, OAuthWorld, start_bot


@pytest.fixture
async def oauth_world(tmp_path: Path) -> AsyncIterator[OAuthWorld]:
    emulator = SlackEmulator(
        signing_secret=SIGNING_SECRET, bot_token="xoxb-not-used", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    await emulator.start()
    key = Fernet.generate_key().decode()
    bot = await start_bot(emulator, tmp_path / "oauth.db", key)
    world = OAuthWorld(emulator, bot, key)
    try:
        yield world
    finally:
        await world.bot.stop()
        await emulator.stop()
