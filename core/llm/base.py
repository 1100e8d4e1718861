"""The port every planner implements: the offline rules and the Anthropic model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.domain import TaskSpec, Usage

if TYPE_CHECKING:
    from core.intents.reader import Reading


@dataclass(frozen=True)
class SpecRequest:
    text: str
    user_id: str
    channel_id: str | None = None
    default_environment: str | None = None
    agents: tuple[dict[str, Any], ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    org_id: str = "default"
    # The offline intent model's reading of the ask (a hint for a language model; what the offline planner uses).
    reading: Reading | None = None
    # The agent the person picked from "did you mean" choices: it is what the ask means, whatever the model reads.
    agent: str | None = None


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
