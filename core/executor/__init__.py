"""Layer 5: roll an approved plan out phase by phase; runs are owned by leases in the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.executor.context import EngineSettings
from core.executor.runner import Executor

if TYPE_CHECKING:
    from core.config import ExecutorConfig

__all__ = ["EngineSettings", "Executor", "engine_settings"]


def engine_settings(config: ExecutorConfig) -> EngineSettings:
    return EngineSettings(
        concurrency=config.concurrency,
        max_failures=config.max_failures,
        lease_seconds=config.lease_seconds,
        on_inconclusive=config.on_inconclusive,
        wait_scale=config.wait_scale,
        poll_interval=config.poll_interval,
    )
