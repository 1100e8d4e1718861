"""Layer 5: roll an approved plan out phase by phase on an APScheduler AsyncIOScheduler."""

from core.executor.runner import Executor

__all__ = ["Executor"]
