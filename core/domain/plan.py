from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from core.domain.spec import Environment
from core.domain.status import Document, Status
from core.timeutil import utcnow

PlanType = Literal[
    "drift_plan",
    "patch_plan",
    "compliance_report",
    "incident_report",
    "dr_runbook",
    "cost_report",
    "security_report",
    "image_plan",
    "sop",
    "adapter_plan",
]


class HealthCheck(Document):
    model_config = ConfigDict(extra="forbid")

    type: Literal["http_200", "error_rate", "latency_p99", "cpu", "service_running", "prometheus"]
    target: str | None = None
    threshold: str | None = None
    query: str | None = None
    timeout: str | None = None


class Phase(Document):
    model_config = ConfigDict(extra="forbid")

    name: str
    assets: list[str]
    wait_time: str | None = None
    health_checks: list[HealthCheck] = Field(default_factory=list)
    rollback_if: str | None = None


class Change(Document):
    """What the executor does to one asset."""

    model_config = ConfigDict(extra="forbid")

    asset_id: str
    action: str
    from_version: str | None = None
    to_version: str | None = None
    image: str | None = None
    details: dict[str, Any] | None = None


class Step(Document):
    name: str
    description: str | None = None
    command: str | None = None
    requires_confirmation: bool | None = None
    retries: int | None = None
    timeout: str | None = None
    depends_on: list[str] | None = None
    when: Literal["always", "on_failure"] | None = None


Severity = Literal["info", "low", "medium", "high", "critical"]
ActionKind = Literal["patch", "drift_fix", "image_rollout", "sop_step"]


class FindingAction(Document):
    """The change a report's finding can become: an ask that is planned, validated and approved like any other.

    Only findings whose change an agent can plan and a driver can carry out have one."""

    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    ask: str = Field(min_length=1, max_length=500)  # "patch CVE-2024-3094 on production"
    label: str | None = Field(default=None, max_length=75)  # the button's text; a default per kind when absent


class Finding(Document):
    title: str
    severity: Severity | None = None
    detail: str | None = None
    assets: list[str] | None = None
    recommendation: str | None = None
    evidence: list[str] | None = None  # what was seen: log lines, scan results, bill lines
    value: float | None = None  # the number the finding is about, for charts (a cost finding: USD saved per month)
    action: FindingAction | None = None


class ErrorBucket(Document):
    """Errors and warnings logged in one slice of a report's time window (an incident timeline's bar)."""

    model_config = ConfigDict(extra="forbid")

    at: datetime
    errors: int = Field(ge=0)
    warnings: int = Field(default=0, ge=0)


class TimelineEvent(Document):
    """A change that happened in a report's window: a deploy, a config change, a restart."""

    model_config = ConfigDict(extra="forbid")

    at: datetime
    kind: str  # "deploy", "config_change", "restart", ...
    detail: str
    service: str | None = None


class ReportScope(Document):
    """What a report looked at: the time window and the sources examined, plus the timeline it drew from."""

    model_config = ConfigDict(extra="forbid")

    window_start: datetime | None = None
    window_end: datetime | None = None
    sources: list[str] = Field(default_factory=list)  # "logs of checkout, payments", "billing 2026-11", "CVE feed"
    timeline: list[ErrorBucket] = Field(default_factory=list)
    events: list[TimelineEvent] = Field(default_factory=list)


class UncheckedHost(Document):
    """A host the dry run could not check: it is listed, and left out of the plan."""

    host: str
    status: Literal["unreachable", "failed", "missing"]
    message: str
    task: str | None = None


class DryRun(Document):
    """What a check-mode run (``ansible-playbook --check --diff``) found; approvals bind to ``diff_hash``."""

    diff_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hosts_changed: int = Field(ge=0)
    hosts_failed: list[UncheckedHost] = Field(default_factory=list)
    playbook: str


class PlanPayload(Document):
    summary: str
    affected_assets: list[str] = Field(default_factory=list)
    total_assets: int | None = None
    phases: list[Phase] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    estimated_duration: str | None = None
    risk_assessment: str | None = None
    report_only: bool = False
    dry_run: DryRun | None = None  # plans of the ansible driver: the check-mode run they come from
    report: ReportScope | None = None  # reports (report_only): the window and the sources examined


class ValidationCheck(Document):
    name: str
    passed: bool
    messages: list[str] = Field(default_factory=list)
    disabled: bool = False  # a policy package turned off by policies.disable: not evaluated, not a pass


class Validation(Document):
    schema_valid: bool = False
    opa_valid: bool = False
    safety_valid: bool = False
    overall_valid: bool = False
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    checks: list[ValidationCheck] = Field(default_factory=list)


class Quality(Document):
    total: int = 0
    structural: int = 0
    policy_compliance: int = 0
    test_coverage: int = 0
    operational_history: int = 0
    human_review: int = 0
    requires_approval: bool = True
    allowed_environments: list[str] = Field(default_factory=list)


class Approval(Document):
    decision: Literal["approved", "rejected"]
    decided_by: str
    decided_at: datetime = Field(default_factory=utcnow)
    reason: str | None = None
    plan_hash: str | None = None  # the version of the plan (and policies) the votes were for
    votes: list[str] = Field(default_factory=list)  # who voted for the decision, in order


class Plan(Document):
    """An agent's proposal (``schemas/plan.schema.json``)."""

    id: str
    task_id: str
    type: PlanType
    agent: str | None = None
    environment: Environment | None = None
    payload: PlanPayload
    validation: Validation | None = None
    quality_score: int | None = None
    quality: Quality | None = None
    approval: Approval | None = None
    status: Status = Field(default_factory=lambda: Status(state="draft"))
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def state(self) -> str:
        return self.status.state

    @property
    def is_report(self) -> bool:
        return self.payload.report_only
