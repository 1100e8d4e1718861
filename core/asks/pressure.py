"""Acks first: how many Slack deliveries this replica's front is handling now, so its own ask workers can wait
for a quiet moment before they plan (planning shares the event loop with the acks in ``--role all``).

The wait is bounded: under a steady stream of deliveries planning still starts after ``MAX_DEFER_SECONDS``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

QUIET_SECONDS = 0.1  # no delivery in flight, and none started or ended, for this long
MAX_DEFER_SECONDS = 2.0


class IntakePressure:
    def __init__(self) -> None:
        self.in_flight = 0
        self._last = 0.0  # monotonic time a delivery last started or ended
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def handling(self) -> Iterator[None]:
        """Around the handling of one delivery (the front's request handler)."""
        self.in_flight += 1
        self._last = time.monotonic()
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            self._last = time.monotonic()
            if self.in_flight == 0:
                self._idle.set()

    async def quiet(self, quiet_seconds: float = QUIET_SECONDS, max_wait: float = MAX_DEFER_SECONDS) -> None:
        """Return once no delivery has been in flight for ``quiet_seconds``, or after ``max_wait``."""
        deadline = time.monotonic() + max_wait
        while (left := deadline - time.monotonic()) > 0:
            if self.in_flight:
                try:
                    await asyncio.wait_for(self._idle.wait(), left)
                except TimeoutError:
                    return
                continue
            calm = quiet_seconds - (time.monotonic() - self._last)
            if calm <= 0:
                return
            await asyncio.sleep(min(calm, left))
