"""Identifiers shaped like Slack's: message timestamps, view ids, trigger ids."""

from __future__ import annotations

import itertools
import secrets
import time


class TimestampClock:
    """Hands out unique, strictly increasing message timestamps ("1732170000.000100")."""

    def __init__(self) -> None:
        self._last_micros = 0

    def next(self) -> str:
        micros = max(int(time.time() * 1_000_000), self._last_micros + 100)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class IdMinter:
    """Prefixed sequential ids such as V0000001 or Ev0000001."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def next(self, prefix: str) -> str:
        counter = self._counters.setdefault(prefix, itertools.count(1))
        return f"{prefix}{next(counter):07d}"


def trigger_id(team_numeric: int = 738474920) -> str:
    return f"{int(time.time() * 1000)}.{team_numeric}.{secrets.token_hex(16)}"
