"""A JSON POST (aiohttp) for every task, plan and run event listed in ``notifications.webhook.events``.

Headers: ``X-OpsPilot-Event`` (the topic), ``X-OpsPilot-Delivery`` (a UUID that stays the same
across retries, for de-duplication), ``X-OpsPilot-Attempt`` and, when ``OPSPILOT_WEBHOOK_SECRET``
is set, ``X-OpsPilot-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.

5xx answers, 429 and connection errors or timeouts are retried with exponential backoff
(``backoff_seconds`` · 2^n, or the receiver's ``Retry-After``), up to ``max_attempts`` in all;
other answers outside 2xx (4xx, redirects) are not retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from core.notify.base import NotificationError, Notifier
from core.notify.notice import Notice
from core.notify.settings import WEBHOOK_TOPICS
from core.timeutil import utcnow

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
MAX_DELAY_SECONDS = 300.0
USER_AGENT = "OpsPilot-Webhook/1"


def signature(body: bytes, secret: str) -> str:
    """The ``X-OpsPilot-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """For receivers (and tests): does ``header`` sign ``body`` with ``secret``? Constant-time."""
    return header is not None and hmac.compare_digest(header, signature(body, secret))


class WebhookNotifier(Notifier):
    name = "webhook"

    def __init__(
        self,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[str] | None = None,
        timeout_seconds: float = 10.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.url = url
        self._secret = secret
        self.events = frozenset(WEBHOOK_TOPICS if events is None else events)
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self.host = urlsplit(url).netloc.rpartition("@")[2]  # what logs show: never the path (it may hold a token)

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.host}, signed={self._secret is not None})"

    @property
    def topics(self) -> frozenset[str]:
        return self.events

    def wants(self, notice: Notice) -> bool:
        return notice.topic in self.events

    def body(self, notice: Notice) -> bytes:
        return json.dumps(notice.data, separators=(",", ":"), ensure_ascii=False, default=str).encode()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def notify(self, notice: Notice) -> None:
        body = self.body(notice)
        headers = {
            "Content-Type": "application/json",
            "X-OpsPilot-Event": notice.topic,
            "X-OpsPilot-Delivery": str(uuid.uuid4()),
        }
        if self._secret:
            headers["X-OpsPilot-Signature"] = signature(body, self._secret)
        for attempt in range(1, self.max_attempts + 1):
            retry_after: str | None = None
            try:
                async with self._client().post(
                    self.url,
                    data=body,
                    headers={**headers, "X-OpsPilot-Attempt": str(attempt)},
                    allow_redirects=False,
                ) as response:
                    status, retry_after = response.status, response.headers.get("Retry-After")
                    snippet = (await response.content.read(200)).decode("utf-8", "replace").strip()
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem, retryable = f"{type(exc).__name__}: {exc}".rstrip(": "), True
            else:
                if 200 <= status < 300:
                    logger.info("webhook %s delivered to %s (attempt %d, HTTP %d)", notice.topic, self.host, attempt, status)
                    return
                problem = f"HTTP {status}" + (f": {snippet}" if snippet else "")
                retryable = status >= 500 or status == 429
            if not retryable or attempt == self.max_attempts:
                raise NotificationError(
                    f"webhook {notice.topic} to {self.host} failed after {attempt} attempt(s): {problem}",
                    attempts=attempt,
                )
            delay = self.delay(attempt, retry_after)
            logger.warning(
                "webhook %s to %s failed (attempt %d/%d, retrying in %.1fs): %s",
                notice.topic,
                self.host,
                attempt,
                self.max_attempts,
                delay,
                problem,
            )
            await self._sleep(delay)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds before attempt ``attempt + 1``: the receiver's Retry-After if it gave one, else exponential."""
        asked = _retry_after_seconds(retry_after)
        wanted = asked if asked is not None else self.backoff_seconds * 2 ** (attempt - 1)
        return min(max(wanted, 0.0), MAX_DELAY_SECONDS)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - utcnow()).total_seconds()
