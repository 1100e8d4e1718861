from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from core.domain.status import Document

Environment = Literal["production", "staging", "development", "all"]
TaskType = Literal[
    "drift_remediation",
    "patch_rollout",
    "compliance_audit",
    "incident_investigation",
    "dr_drill",
    "cost_optimization",
    "security_scan",
    "image_management",
    "sop_authoring",
    "adapter_generation",
]
RiskLevel = Literal["low", "medium", "high", "critical"]


class Scope(Document):
    model_config = ConfigDict(extra="forbid")

    platforms: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    asset_ids: list[str] = Field(default_factory=list)
    asset_filter: str | None = None
    # Services and tags the ask named (their assets are in asset_ids); shown in goals and cards.
    services: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class SpecContext(Document):
    model_config = ConfigDict(extra="forbid")

    environment: Environment
    scope: Scope = Field(default_factory=Scope)
    parameters: dict[str, Any] = Field(default_factory=dict)


class AgentRef(Document):
    model_config = ConfigDict(extra="forbid")

    name: str
    priority: int = 1


class Constraints(Document):
    model_config = ConfigDict(extra="forbid")

    canary_required: bool | None = None
    max_batch_percent: float | None = None
    rollback_trigger: str | None = None
    maintenance_window: str | None = None


class TaskSpec(Document):
    """The engine's reading of an ask (``schemas/task-spec.schema.json``)."""

    model_config = ConfigDict(extra="forbid")

    task_type: TaskType
    goal: str
    context: SpecContext
    agents: list[AgentRef]
    tools_required: list[str] = Field(default_factory=list)
    risk_level: RiskLevel
    hitl_required: bool = True
    constraints: Constraints | None = None

    @property
    def environment(self) -> str:
        return self.context.environment

    @property
    def agent_name(self) -> str:
        return min(self.agents, key=lambda a: a.priority).name
