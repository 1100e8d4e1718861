from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from core.domain.spec import TaskSpec
from core.domain.status import Document, Status
from core.timeutil import utcnow


class Usage(Document):
    """LLM usage for one task; zero for the offline planner."""

    provider: str = "offline"
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            provider=other.provider if other.provider != "offline" else self.provider,
            model=other.model or self.model,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
        )


class Task(Document):
    """One ask from a person (``schemas/task.schema.json``)."""

    id: str
    org_id: str | None = None
    created_by: str | None = None
    user_intent: str
    task_spec: TaskSpec | None = None
    origin: dict[str, Any] = Field(default_factory=dict)
    usage: Usage | None = None
    status: Status = Field(default_factory=lambda: Status(state="created"))
    created_at: datetime = Field(default_factory=utcnow)
