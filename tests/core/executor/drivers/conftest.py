"""Fixtures for the driver tests: a loopback receiver and a harness per driver (see support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.core.executor.drivers.support import Harness, Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


@pytest.fixture(params=["simulate", "command", "http"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path, receiver: Receiver) -> AsyncIterator[Harness]:
    h = Harness(request.param, tmp_path, receiver=receiver)
    yield h
    for driver in h.drivers:
        await driver.close()
