"""Run a batch of driver actions ``concurrency`` at a time with a fixed pool of workers (not one task per asset:
at fleet scale the tasks themselves would cost more than a zero-latency driver)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


async def run_limited(items: Sequence[Item], concurrency: int, work: Callable[[Item], Awaitable[Result]]) -> list[Result]:
    """``work`` over ``items`` with at most ``concurrency`` in flight; results in the order of ``items``."""
    results: list[Result | None] = [None] * len(items)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(items):
            index = next_index
            next_index += 1
            results[index] = await work(items[index])

    # A TaskGroup, not gather: an unexpected error stops the sibling workers at once, so no driver call starts after
    # the engine has begun to recover (roll back) from that error.
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(items))):
            group.create_task(worker())
    return results  # type: ignore[return-value]
