from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from core.domain import Plan, TaskSpec
from core.timeutil import utcnow

CheckKind = Literal["schema", "policy", "safety"]


@dataclass
class PlanContext:
    """A plan and what the checks need to know around it."""

    plan: Plan
    task_spec: TaskSpec | None = None
    requester: str | None = None
    fleet: Any = None
    now: datetime = field(default_factory=utcnow)

    @property
    def environment(self) -> str:
        return self.plan.environment or (self.task_spec.environment if self.task_spec else "all")

    @property
    def total_assets(self) -> int:
        return len(self.plan.payload.affected_assets)


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: CheckKind
    passed: bool
    messages: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class Check(ABC):
    """Port: one validation step. A check that cannot decide must fail, never pass."""

    name: str
    kind: CheckKind

    @abstractmethod
    async def run(self, context: PlanContext) -> CheckResult: ...
