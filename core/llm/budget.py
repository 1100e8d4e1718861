"""The per-workspace token budget: at most ``tokens_per_minute`` tokens in any sliding minute."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from core.domain import Usage
from core.errors import BudgetExceeded
from core.timeutil import utcnow

logger = logging.getLogger(__name__)
WINDOW = timedelta(minutes=1)


def budget_tokens(usage: Usage) -> int:
    """What counts against the budget: fresh input, cache writes and output. Cache reads are ~10% of the
    input price and not rate limited the same way, so they do not count."""
    return usage.input_tokens + usage.cache_write_tokens + usage.output_tokens


class TokenBudget:
    """Backed by ``Store.record_llm_usage`` / ``llm_tokens_since``; ``tokens_per_minute=0`` means no limit."""

    def __init__(self, store: Any, tokens_per_minute: int, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.tokens_per_minute = tokens_per_minute
        self.clock = clock

    async def check(self, org_id: str) -> None:
        if self.tokens_per_minute <= 0:
            return
        used = await self.store.llm_tokens_since(org_id, self.clock() - WINDOW)
        if used >= self.tokens_per_minute:
            logger.warning(
                "token budget spent for org %s: %d of %d tokens in the last minute", org_id, used, self.tokens_per_minute
            )
            raise BudgetExceeded(f"the workspace used {used:,} of its {self.tokens_per_minute:,} tokens this minute")

    async def record(self, org_id: str, usage: Usage) -> None:
        await self.store.record_llm_usage(org_id, budget_tokens(usage), usage.cost_usd)
