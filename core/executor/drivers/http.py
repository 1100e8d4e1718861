"""The http driver: POSTs each action as signed JSON to a deployment system, optionally polling for the end.

Every request carries ``Idempotency-Key`` (the action's key, the same on every retry and on a repeat
after a crash), ``X-OpsPilot-Timestamp`` and ``X-OpsPilot-Signature: v1=<hex HMAC-SHA256 of
"timestamp.body">`` (see core/signing.py). 5xx, 429 and connection errors are retried with exponential
backoff under the same key; any other 4xx fails the action at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp

from core.errors import ConfigError, DriverError
from core.executor.drivers.base import Driver, DriverAction, DriverResult
from core.executor.drivers.output import cap_text
from core.signing import signed_headers

if TYPE_CHECKING:
    from core.config import HttpDriverConfig

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
_EXCERPT = 600


def _check_url(key: str, url: str | None, *, placeholders: frozenset[str] = frozenset()) -> str:
    if not url:
        raise ConfigError(f"{key}: not set; give the http(s) URL of the receiver, e.g. https://deploy.example.internal/actions")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{key}: {url!r} is not an http(s) URL; use e.g. https://deploy.example.internal/actions")
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(url) if field is not None}
    except ValueError as exc:
        raise ConfigError(f"{key}: malformed brace in {url!r} ({exc})") from exc
    unknown = fields - placeholders
    if unknown:
        known = ", ".join("{" + p + "}" for p in sorted(placeholders)) or "none"
        raise ConfigError(f"{key}: unknown placeholder {{{sorted(unknown)[0]}}}; known: {known}")
    return url


def action_body(action: DriverAction) -> dict[str, Any]:
    """The JSON document POSTed for one action."""
    asset = action.asset
    return {
        "action": action.action,
        "asset": None
        if asset is None
        else {
            "id": asset.id,
            "address": asset.address,
            "image": asset.image,
            "tags": list(asset.tags),
            "service": asset.service,
        },
        "change": None if action.change is None else action.change.model_dump(mode="json"),
        "from_version": action.from_version,
        "to_version": action.to_version,
        "step": None if action.step is None else action.step.model_dump(mode="json", exclude_none=True),
        "run_id": action.run_id,
        "phase": action.phase,
        "phase_index": action.phase_index,
        "idempotency_key": action.key,
        "attempt": action.attempt,
    }


@dataclass
class _Answer:
    status: int
    data: dict[str, Any] | None
    text: str


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class HttpDriver(Driver):
    name = "http"

    def __init__(
        self,
        url: str | None,
        *,
        secret_env: str = "OPSPILOT_DRIVER_SECRET",
        status_url: str | None = None,
        timeout: float = 600.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        poll_interval: float = 2.0,
        env: Mapping[str, str] | None = None,
        key_prefix: str = "executor.http",
    ) -> None:
        self.url = _check_url(f"{key_prefix}.url", url)
        self.status_url = (
            None if status_url is None else _check_url(f"{key_prefix}.status_url", status_url, placeholders=frozenset({"key"}))
        )
        secret = (os.environ if env is None else env).get(secret_env)
        if not secret:
            raise ConfigError(
                f"{key_prefix}.secret_env: environment variable {secret_env} is not set; "
                "set it to the secret the receiver verifies signatures with"
            )
        self._secret = secret
        if timeout <= 0:
            raise ConfigError(f"{key_prefix}.timeout: must be more than 0, e.g. 10m")
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.poll_interval = poll_interval
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, config: HttpDriverConfig, env: Mapping[str, str] | None = None) -> HttpDriver:
        return cls(
            config.url,
            secret_env=config.secret_env,
            status_url=config.status_url,
            timeout=config.timeout,
            max_attempts=config.max_attempts,
            backoff=config.backoff,
            poll_interval=config.poll_interval,
            env=env,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def perform(self, action: DriverAction) -> DriverResult:
        body = json.dumps(action_body(action), separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self._request("POST", self.url, action.key, body)
                data = answer.data or {}
                self._raise_if_failed(action, data, answer.text)
                if self.status_url is not None and data.get("status") != "done":
                    data = {**data, **await self._poll(action)}
        except TimeoutError:
            raise DriverError(f"{action.action} timed out after {self.timeout:g}s waiting for {self.url}") from None
        return DriverResult(
            previous=_text(data.get("previous")), current=_text(data.get("current")), output=_output(data, answer.text)
        )

    async def _poll(self, action: DriverAction) -> dict[str, Any]:
        assert self.status_url is not None
        url = self.status_url.format(key=quote(action.key, safe=""))
        while True:
            answer = await self._request("GET", url, action.key, b"")
            data = answer.data or {}
            self._raise_if_failed(action, data, answer.text)
            if data.get("status") == "done":
                return data
            await asyncio.sleep(self.poll_interval)

    def _raise_if_failed(self, action: DriverAction, data: dict[str, Any], text: str) -> None:
        if data.get("status") == "failed":
            error = str(data.get("error") or "the receiver reported a failure")
            raise DriverError(f"{action.action} failed: {cap_text(error, _EXCERPT)}", _output(data, text))

    async def _request(self, method: str, url: str, key: str, body: bytes) -> _Answer:
        """One request, retried under the same key on 5xx, 429 and connection errors."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await self._send(method, url, key, body)
            except _Retryable as exc:
                if attempt == self.max_attempts:
                    raise DriverError(f"{method} {url} gave up after {attempt} attempts: {exc}") from None
                delay = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
                if exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), MAX_BACKOFF)
                log.warning("http driver: %s %s: %s; retrying in %.2fs (key %s)", method, url, exc, delay, key)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _send(self, method: str, url: str, key: str, body: bytes) -> _Answer:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        headers = {"Idempotency-Key": key, "User-Agent": "OpsPilot", **signed_headers(self._secret, body)}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(method, url, data=body if method == "POST" else None, headers=headers) as resp:
                raw = await resp.read()
                text = cap_text(raw.decode("utf-8", errors="replace"))
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if status >= 500 or status == 429:
            raise _Retryable(f"HTTP {status}", _seconds(retry_after))
        if not 200 <= status < 300:
            raise DriverError(f"{method} {url} answered HTTP {status}: {_excerpt(text)}", text)
        return _Answer(status, _json_object(raw), text)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _output(data: dict[str, Any], text: str) -> str:
    output = data.get("output")
    return str(output) if output is not None else text


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _excerpt(text: str) -> str:
    text = text.strip()
    return (text if len(text) <= _EXCERPT else text[:_EXCERPT] + "...") or "(empty body)"
