from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.domain import Plan, PlanPayload, TaskSpec
from core.errors import PlanningError
from core.tools import ToolCall, ToolContext, ToolRegistry


@dataclass
class AgentContext:
    tools: ToolRegistry
    tool_context: ToolContext
    llm: Any = None
    trace: list[ToolCall] = field(default_factory=list)

    async def call(self, name: str, **arguments: Any) -> dict[str, Any]:
        return await self.tools.call(name, arguments, self.tool_context, trace=self.trace)


@dataclass
class AgentResult:
    """A plan to review, or a plain message when there is nothing to change."""

    plan: Plan | None
    message: str
    tool_calls: list[ToolCall] = field(default_factory=list)


class Agent(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    task_types: ClassVar[tuple[str, ...]]
    plan_type: ClassVar[str]
    tools: ClassVar[tuple[str, ...]]

    @abstractmethod
    async def plan(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult: ...

    def new_plan(self, spec: TaskSpec, task_id: str, payload: dict[str, Any]) -> Plan:
        return Plan(
            id=str(uuid.uuid4()), task_id=task_id, type=self.plan_type, agent=self.name,
            environment=spec.environment, payload=PlanPayload.model_validate(payload),
        )


class AgentRegistry:
    def __init__(self, agents: Iterable[Agent]) -> None:
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
