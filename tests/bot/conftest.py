"""A running OpsPilot (HTTP mode, real Bolt app) wired to a running Slack emulator, both on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.playground.emulator import APPROVER_1, APPROVER_2, SlackEmulator
from bot.playground.records import RateLimit
from bot.server import Running, start
from core.config import load_config

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@dataclass
class SlackWorld:
    emulator: SlackEmulator
    bot: Running

    @property
    def service(self):
        return self.bot.service


async def start_world(
    tmp_path: Path,
    *,
    rate_limit: RateLimit | None = None,
    env: dict[str, str] | None = None,
    fleet: Path | None = None,
    **executor,
) -> SlackWorld:
    tmp_path.mkdir(parents=True, exist_ok=True)
    emulator = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, rate_limit=rate_limit)
    await emulator.start()
    config = load_config(
        env={
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": emulator.api_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            **(env or {}),
        }
    )
    config.approvers = [APPROVER_1, APPROVER_2]
    config.executor.wait_scale = 0.0
    if fleet is not None:
        config.inventory.path = fleet
    for key, value in executor.items():
        setattr(config.executor.simulate, key, value)
    bot = await start(config, host="127.0.0.1", port=0, mode="http")
    emulator.bot_url = f"{bot.url}/slack/events"
    return SlackWorld(emulator, bot)


@pytest.fixture
async def make_world(tmp_path: Path) -> AsyncIterator:
    """Start worlds with options (rate_limit=…, fail_assets=[…]); all are stopped after the test."""
    started: list[SlackWorld] = []

    async def make(**options) -> SlackWorld:
        w = await start_world(tmp_path / f"world{len(started)}", **options)
        started.append(w)
        return w

    try:
        yield make
    finally:
        for w in started:
            await w.bot.stop()
            await w.emulator.stop()


@pytest.fixture
async def world(make_world) -> SlackWorld:
    return await make_world()
