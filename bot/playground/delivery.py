"""Sends signed requests to the bot, as Slack does, and returns the bot's answer."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.playground.records import Delivery
from bot.playground.signing import signed_headers

logger = logging.getLogger(__name__)

ACK_DEADLINE_SECONDS = 3.0


class DeliveryError(Exception):
    """The bot could not be reached (or no bot URL is configured)."""


class BotDeliverer:
    def __init__(self, signing_secret: str, timeout: float = 30.0) -> None:
        self._signing_secret = signing_secret
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_form(self, url: str | None, fields: dict[str, str], kind: str) -> Delivery:
        return await self._send(url, urlencode(fields).encode(), "application/x-www-form-urlencoded", kind)

    async def send_interactive(self, url: str | None, payload: dict[str, Any], kind: str) -> Delivery:
        return await self.send_form(url, {"payload": json.dumps(payload)}, kind)

    async def send_event(self, url: str | None, envelope: dict[str, Any], kind: str) -> Delivery:
        return await self._send(url, json.dumps(envelope).encode(), "application/json", kind)

    async def _send(self, url: str | None, body: bytes, content_type: str, kind: str) -> Delivery:
        if not url:
            raise DeliveryError("no bot URL configured (set SlackEmulator.bot_url)")
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **signed_headers(self._signing_secret, body),
        }
        session = self._ensure_session()
        started = time.monotonic()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                text = await response.text()
                elapsed = time.monotonic() - started
                return Delivery(
                    status=response.status,
                    body=_parsed(text, response.content_type),
                    headers=dict(response.headers),
                    kind=kind,
                    elapsed=elapsed,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("Delivering %s to %s failed: %s", kind, url, exc)
            raise DeliveryError(f"delivering {kind} to {url} failed: {exc!r}") from exc

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self._session


def _parsed(text: str, content_type: str) -> str | dict[str, Any]:
    if content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        if isinstance(parsed, dict):
            return parsed
    return text
