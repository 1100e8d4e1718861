"""Agents: each turns a TaskSpec into a Plan (or a report, or a message) by calling registry tools.

An agent's ``draft`` is deterministic: tools decide scope, phases and changes. When a language model
is configured, ``plan`` hands the draft to an :class:`~core.agents.llm_loop.LLMAgentLoop` that may
investigate further with the agent's read/plan tools and rewrite the summary, findings and risk
assessment; it never changes what the plan touches.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from core.domain import Plan, PlanPayload, TaskSpec, Usage
from core.errors import PlanningError
from core.tools import ToolCall, ToolContext, ToolRegistry

if TYPE_CHECKING:
    from core.agents.llm_loop import LLMAgentLoop

logger = logging.getLogger(__name__)


@dataclass
class AgentContext:
    tools: ToolRegistry
    tool_context: ToolContext
    llm: LLMAgentLoop | None = None
    trace: list[ToolCall] = field(default_factory=list)
    org_id: str = "default"

    async def call(self, name: str, **arguments: Any) -> dict[str, Any]:
        return await self.tools.call(name, arguments, self.tool_context, trace=self.trace)


@dataclass
class AgentResult:
    """A plan to review, or a plain message when there is nothing to change."""

    plan: Plan | None
    message: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    note: str | None = None


class Agent(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    task_types: ClassVar[tuple[str, ...]]
    plan_type: ClassVar[str]
    tools: ClassVar[tuple[str, ...]]

    async def plan(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        result = await self.draft(spec, task_id, ctx)
        if ctx.llm is not None and result.plan is not None:
            result = await ctx.llm.review(self, spec, result, ctx)
        return result

    @abstractmethod
    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        """The deterministic plan from tools alone; ``plan`` adds the model's review when one is configured."""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "task_types": list(self.task_types),
            "tools": list(self.tools),
        }

    def new_plan(self, spec: TaskSpec, task_id: str, payload: dict[str, Any]) -> Plan:
        return Plan(
            id=str(uuid.uuid4()),
            task_id=task_id,
            type=self.plan_type,
            agent=self.name,
            environment=spec.environment,
            payload=PlanPayload.model_validate(payload),
        )


class AgentRegistry:
    """The agents by name, and the LLM loop (if any) that reviews their drafts."""

    def __init__(self, agents: Iterable[Agent], loop: LLMAgentLoop | None = None) -> None:
        self.loop = loop
        self._by_name: dict[str, Agent] = {}
        for agent in agents:
            if agent.name in self._by_name:
                raise ValueError(f"agent {agent.name!r} is registered twice")
            self._by_name[agent.name] = agent

    def all(self) -> list[Agent]:
        return list(self._by_name.values())

    def get(self, name: str) -> Agent:
        try:
            return self._by_name[name]
        except KeyError:
            raise PlanningError(f"no agent named {name!r}; agents: {', '.join(self._by_name)}") from None

    def for_spec(self, spec: TaskSpec) -> Agent:
        for ref in sorted(spec.agents, key=lambda a: a.priority):
            if ref.name in self._by_name:
                return self._by_name[ref.name]
        for agent in self._by_name.values():
            if spec.task_type in agent.task_types:
                return agent
        raise PlanningError(f"no agent handles {spec.task_type!r} yet")
