"""Slack rate limits shared by every replica.

A 429 from Slack comes with ``Retry-After``; the window (method, channel) → until is recorded in the database
(``slack_rate_limits``, through ``service.queries``), and every replica's client checks it before each Web API call.
Inside a window the client does not call Slack: the outbox path gets the same error a 429 would give (the delivery is
retried after the remaining time), the request path waits when the wait is short and gets that error otherwise.

This replaces slack_sdk's ``AsyncRateLimitErrorRetryHandler``, which sleeps in one process and tells no other.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from core.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from core.read_models import Queries

logger = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 1.0  # a 429 without Retry-After (Slack always sends it; a proxy might not)
DELIVERY_CALL_TIMEOUT = 10  # seconds for one Web API call of a delivery (the dispatcher cuts an attempt at 30 s)
REQUEST_WAIT_SECONDS = 30.0  # a listener (after its ack) waits this long at most for a window to end


class SharedRateLimits:
    """Reads and records the windows; ``clock`` is the time they are measured against."""

    def __init__(self, queries: Queries, clock: Clock = SYSTEM_CLOCK) -> None:
        self.queries = queries
        self.clock = clock

    async def remaining(self, method: str, channel: str = "") -> float:
        """Seconds until ``method`` may be called for ``channel`` again (0 when it may now)."""
        until = await self.queries.rate_limited_until(method, channel)
        if until is None:
            return 0.0
        return max(0.0, (until - self.clock.now()).total_seconds())

    async def hit(self, method: str, channel: str, retry_after: float) -> None:
        now = self.clock.now()
        await self.queries.record_rate_limit(method, channel, now + timedelta(seconds=retry_after), now)
        logger.warning("Slack rate limited %s%s for %.0fs", method, f" in {channel}" if channel else "", retry_after)


def retry_after_of(exc: SlackApiError) -> float | None:
    """The Retry-After of a 429 (in seconds), or None when ``exc`` is not a rate limit."""
    response = exc.response
    if response is None or (response.status_code != 429 and response.get("error") != "ratelimited"):
        return None
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


class LimitedWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` that honours the shared windows. ``wait_up_to``: inside a window, wait when it ends within
    that many seconds (then call), else raise the 429 error at once; 0 for the outbox, whose dispatcher retries."""

    def __init__(self, *args: Any, limits: SharedRateLimits | None = None, wait_up_to: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.wait_up_to = wait_up_to

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if self.limits is None:
            return await super().api_call(api_method, **kwargs)
        channel = channel_of(kwargs)
        waited = 0.0
        while True:
            left = await self.limits.remaining(api_method, channel)
            if left > 0:
                if waited + left > self.wait_up_to:
                    raise self._held(api_method, left)
                await asyncio.sleep(left)
                waited += left
                continue
            try:
                return await super().api_call(api_method, **kwargs)
            except SlackApiError as exc:
                retry_after = retry_after_of(exc)
                if retry_after is None:
                    raise
                await self.limits.hit(api_method, channel, retry_after)
                if waited + retry_after > self.wait_up_to:
                    raise

    def _held(self, api_method: str, left: float) -> SlackApiError:
        """What a 429 would have raised, without calling Slack: the remaining window as Retry-After."""
        response = AsyncSlackResponse(
            client=self,
            http_verb="POST",
            api_url=f"{self.base_url}{api_method}",
            req_args={},
            data={"ok": False, "error": "ratelimited", "held": True},
            headers={"Retry-After": str(math.ceil(left))},
            status_code=429,
        )
        return SlackApiError(f"{api_method} is rate limited for {left:.1f}s more (shared window)", response)


def channel_of(call: dict[str, Any]) -> str:
    """The channel an API call is about, from its JSON, form data or query parameters ("" when none)."""
    for key in ("json", "data", "params"):
        part = call.get(key)
        if isinstance(part, dict) and part.get("channel"):
            return str(part["channel"])
        if isinstance(part, dict) and part.get("channel_id"):  # files.completeUploadExternal
            return str(part["channel_id"])
    return ""


def request_client(token: str | None, api_url: str, limits: SharedRateLimits | None) -> LimitedWebClient:
    """Bolt's client (listeners, after their ack): waits out a short window, retries a dropped connection."""
    return LimitedWebClient(
        token=token,
        base_url=api_url,
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=2)],
        limits=limits,
        wait_up_to=REQUEST_WAIT_SECONDS,
    )


def delivery_client(token: str | None, api_url: str, limits: SharedRateLimits | None) -> LimitedWebClient:
    """The outbox subscriber's client: one try per call and no waiting; the dispatcher retries (a post repeated by an
    HTTP-level retry could show twice, a delivery retry checks the thread first)."""
    return LimitedWebClient(
        token=token, base_url=api_url, timeout=DELIVERY_CALL_TIMEOUT, retry_handlers=[], limits=limits, wait_up_to=0.0
    )


def use_shared_limits(app: AsyncApp, client: AsyncWebClient) -> None:
    """Listeners get ``client`` (the limited one) instead of the plain client Bolt builds per request, so their calls
    honour the shared windows too. One workspace, one token: the same client serves every request. OAuth mode
    (``client`` holds no token): a limited client with the bot token Bolt's authorize found for the request's
    workspace."""

    async def limited_client(context: AsyncBoltContext, next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        token = context.bot_token or context.user_token
        if client.token is None and token:
            context["client"] = LimitedWebClient(
                token=token,
                base_url=client.base_url,
                timeout=client.timeout,
                retry_handlers=list(client.retry_handlers or []),
                limits=getattr(client, "limits", None),
                wait_up_to=getattr(client, "wait_up_to", REQUEST_WAIT_SECONDS),
            )
        else:
            context["client"] = client
        return await next()

    app.middleware(limited_client)
