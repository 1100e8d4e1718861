"""Per-channel token buckets for Slack's "about one message per second per channel" limit."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.playground.records import RateLimit


@dataclass
class _Bucket:
    tokens: float
    refreshed_at: float


class ChannelRateLimiter:
    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, channel: str) -> bool:
        now = time.monotonic()
        bucket = self._buckets.setdefault(channel, _Bucket(float(self.limit.burst), now))
        elapsed = now - bucket.refreshed_at
        bucket.tokens = min(float(self.limit.burst), bucket.tokens + elapsed * self.limit.per_second)
        bucket.refreshed_at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True
