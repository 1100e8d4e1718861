"""The documents OpsPilot reasons about: TaskSpec, Task, Plan, Run (shapes of ``schemas/``)."""

from core.domain.plan import (
    Approval,
    Change,
    ErrorBucket,
    Finding,
    FindingAction,
    HealthCheck,
    Phase,
    Plan,
    PlanPayload,
    Quality,
    ReportScope,
    Step,
    TimelineEvent,
    Validation,
    ValidationCheck,
)
from core.domain.run import AssetResult, PhaseResult, Run, RunMetrics, RunProgress
from core.domain.spec import AgentRef, Constraints, Scope, SpecContext, TaskSpec
from core.domain.status import Status
from core.domain.task import Task, Usage

__all__ = [
    "AgentRef",
    "Approval",
    "AssetResult",
    "Change",
    "Constraints",
    "ErrorBucket",
    "Finding",
    "FindingAction",
    "HealthCheck",
    "Phase",
    "PhaseResult",
    "Plan",
    "PlanPayload",
    "Quality",
    "ReportScope",
    "Run",
    "RunMetrics",
    "RunProgress",
    "Scope",
    "SpecContext",
    "Status",
    "Step",
    "Task",
    "TaskSpec",
    "TimelineEvent",
    "Usage",
    "Validation",
    "ValidationCheck",
]
