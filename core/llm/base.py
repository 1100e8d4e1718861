"""The port every planner implements: the offline rules and the Anthropic model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from core.domain import TaskSpec, Usage


@dataclass(frozen=True)
class SpecRequest:
    text: str
    user_id: str
    channel_id: str | None = None
    default_environment: str | None = None
    agents: tuple[dict[str, Any], ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    org_id: str = "default"


@dataclass
class SpecDraft:
    spec: TaskSpec
    usage: Usage = field(default_factory=Usage)
    provider: str = "offline"
    note: str | None = None


class LanguageModel(ABC):
    name: str

    @abstractmethod
    async def draft_spec(self, request: SpecRequest) -> SpecDraft:
        """Read the ask; raise InvalidAsk when it cannot be mapped, LLMError when the model fails."""
