"""``opspilot serve --role front`` and ``--role worker`` as two real processes on one database: the front acks and
records an ask and plans nothing; the worker plans it and its card reaches Slack (the emulator, in this process).
SQLite always; PostgreSQL too when OPSPILOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.playground.emulator import OPS_CHANNEL, REQUESTER, SlackEmulator
from tests.support.postgres import POSTGRES_URL, SKIP_REASON, create_database, drop_database

OPSPILOT = Path(sys.executable).with_name("opspilot")
SECRET, TOKEN = "roles-test-secret", "xoxb-roles-test"
ASK = "fix drift on prod web servers"


class Serve:
    """``opspilot serve --role ROLE --port 0`` in its own process; its log goes to a file."""

    def __init__(self, role: str, env: dict[str, str], folder: Path) -> None:
        self.log_path = folder / f"{role}.log"
        self._log = self.log_path.open("w")
        command = [str(OPSPILOT)] if OPSPILOT.exists() else [sys.executable, "-m", "bot.cli"]
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0", "--role", role],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""  # printed once /health says ok
        assert "health at http://" in line, f"serve --role {role} did not start: {line!r}\n{self.log_path.read_text()}"
        self.url = line.split("health at ", 1)[1].strip().removesuffix("/health")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    url, name = await create_database()
    try:
        yield url
    finally:
        await drop_database(name)


async def get(url: str) -> tuple[int, dict | str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await response.json(content_type=None) if "json" in response.content_type else await response.text()
        return response.status, body


async def test_a_front_records_the_ask_and_a_separate_worker_plans_it(database_url: str, tmp_path: Path) -> None:
    emulator = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    await emulator.start()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
    }
    env.pop("SLACK_APP_TOKEN", None)
    front = worker = None
    try:
        front = await asyncio.to_thread(Serve, "front", env, tmp_path)
        emulator.bot_url = f"{front.url}/slack/events"
        delivery = await emulator.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
        assert delivery.status == 200 and "Working on" in str(delivery.body)
        assert delivery.elapsed < 3.0
        status, ready = await get(f"{front.url}/ready")
        assert status == 200 and ready["role"] == "front"
        await asyncio.sleep(1.5)
        assert not [m for m in emulator.messages(OPS_CHANNEL) if m.blocks], "a front plans nothing"

        worker = await asyncio.to_thread(Serve, "worker", env, tmp_path)
        card = await emulator.wait_for(
            lambda: next((m for m in emulator.messages(OPS_CHANNEL) if m.blocks and "Approve" in str(m.blocks)), None),
            timeout=30,
        )
        assert card.ts
        status, ready = await get(f"{worker.url}/ready")
        assert status == 200 and ready["role"] == "worker"
        assert (await get(f"{worker.url}/slack/events"))[0] in (404, 405)  # no Slack route on a worker
        assert (await get(f"{worker.url}/api/v1/ai/tasks"))[0] == 404
    finally:
        codes = [await asyncio.to_thread(s.stop) for s in (worker, front) if s is not None]
        await emulator.stop()
    assert codes == [0] * len(codes)
    assert "answered: plan" in (tmp_path / "worker.log").read_text()
    assert "answered:" not in (tmp_path / "front.log").read_text()
