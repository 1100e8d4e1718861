from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from core.domain import Plan, TaskSpec
from core.timeutil import utcnow

CheckKind = Literal["schema", "policy", "safety", "quality"]
# "plan": the plan is being drafted for review; "run": its run is about to start.
Stage = Literal["plan", "run"]


@dataclass
class PlanContext:
    """A plan and what the checks need to know around it."""

    plan: Plan
    task_spec: TaskSpec | None = None
    requester: str | None = None
    fleet: Any = None
    now: datetime = field(default_factory=utcnow)
    stage: Stage = "plan"

    @property
    def environment(self) -> str:
        return self.plan.environment or (self.task_spec.environment if self.task_spec else "all")

    @property
    def total_assets(self) -> int:
        """Assets the plan touches: the affected list, plus any asset a phase names on top of it."""
        payload = self.plan.payload
        return len(set(payload.affected_assets).union(*(p.assets for p in payload.phases)))


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: CheckKind
    passed: bool
    messages: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Why a person must approve even when the quality score would allow skipping them.
    approval_reasons: tuple[str, ...] = ()
    # Turned off on purpose (``policies.disable``): shown, but neither a pass nor a failure.
    disabled: bool = False


class Check(ABC):
    """Port: one validation step. A check that cannot decide must fail, never pass."""

    name: str
    kind: CheckKind

    @abstractmethod
    async def run(self, context: PlanContext) -> CheckResult: ...

    async def run_all(self, context: PlanContext) -> list[CheckResult]:
        """Checks that judge several things at once (one verdict per policy package) override this."""
        return [await self.run(context)]
