from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from core.domain.spec import Environment
from core.domain.status import Document, Status
from core.timeutil import utcnow

PhaseState = Literal["pending", "running", "completed", "failed", "rolled_back", "skipped"]
AssetState = Literal["pending", "running", "completed", "failed", "rolled_back"]


class AssetResult(Document):
    asset_id: str
    status: AssetState = "pending"
    previous: str | None = None
    current: str | None = None
    error: str | None = None


class PhaseResult(Document):
    name: str
    status: PhaseState = "pending"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    assets: list[AssetResult] = Field(default_factory=list)
    health: dict[str, Any] | None = None
    confirmed_by: str | None = None


class RunProgress(Document):
    current_phase: int = 0
    phases_completed: int = 0
    total_phases: int = 0
    next_phase_at: datetime | None = None


class RunMetrics(Document):
    duration_seconds: float = 0.0
    assets_changed: int = 0
    assets_failed: int = 0
    error_rate: float = 0.0


class Run(Document):
    """One execution of an approved plan (``schemas/run.schema.json``)."""

    id: str
    plan_id: str
    environment: Environment
    progress: RunProgress = Field(default_factory=RunProgress)
    phases: list[PhaseResult] = Field(default_factory=list)
    metrics: RunMetrics = Field(default_factory=RunMetrics)
    audit_log: list[dict[str, Any]] = Field(default_factory=list)
    status: Status = Field(default_factory=lambda: Status(state="queued"))
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def state(self) -> str:
        return self.status.state
