"""Time as a dependency: production code asks a clock, tests move a manual one instead of sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.timeutil import utcnow


class Clock:
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return utcnow()


class ManualClock(Clock):
    """A clock that only moves when told to (tests of soaks, leases and expiries)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or utcnow()

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


SYSTEM_CLOCK = Clock()
