"""Fixtures for the Slack emulator tests: a running emulator, a signature-checking bot peer, a real SDK client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest_asyncio
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.emulator import SlackEmulator

SIGNING_SECRET = "s3cret"
BOT_TOKEN = "xoxb-playground"

Answer = Callable[["Received"], Awaitable[web.StreamResponse | None]]


@dataclass(frozen=True)
class Received:
    """One request the bot peer accepted: kind is slash_command, interactive or event."""

    kind: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class BotPeer:
    """A stand-in bot: verifies Slack signatures with slack_sdk, records requests, answers via `answers`."""

    def __init__(self, signing_secret: str) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.received: list[Received] = []
        self.rejected = 0
        self.answers: dict[str, Answer] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/slack/events", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/slack/events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of_kind(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.kind == kind]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        valid = self.verifier.is_valid(
            body=raw.decode(),
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            signature=request.headers.get("X-Slack-Signature", ""),
        )
        if not valid:
            self.rejected += 1
            return web.Response(status=401, text="invalid signature")
        if request.content_type == "application/json":
            received = Received("event", json.loads(raw), dict(request.headers))
        else:
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            if "payload" in form:
                received = Received("interactive", json.loads(form["payload"]), dict(request.headers))
            else:
                received = Received("slash_command", form, dict(request.headers))
        self.received.append(received)
        answer = self.answers.get(received.kind)
        response = await answer(received) if answer is not None else None
        return response if response is not None else web.Response(status=200)


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest_asyncio.fixture
async def bot_peer(emulator: SlackEmulator) -> AsyncIterator[BotPeer]:
    peer = BotPeer(SIGNING_SECRET)
    await peer.start()
    emulator.bot_url = peer.url
    try:
        yield peer
    finally:
        await peer.stop()


@pytest_asyncio.fixture
async def slack(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=emulator.api_url)
