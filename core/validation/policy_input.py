"""The input document every Rego policy sees.

{
  "plan": <plan document, without validation and quality>,
  "environment": "production", "total_assets": 14, "requester": "U0…", "stage": "plan" | "run",
  "time": "2024-12-01T10:30:00Z", "weekday": "Sunday", "hour_utc": 10, "minute_of_day": 630, "clock": "10:30",
  "task": {"task_type": …, "risk_level": …, "constraints": {…}} | null,
  "config": {"change_windows": [{"label", "days", "start_minute", "end_minute"}],
             "max_resource_changes": 20, "max_step_retries": 3}
}
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from core.config import PoliciesConfig
from core.timeutil import isoformat
from core.validation.base import PlanContext
from core.validation.windows import WEEKDAYS, parse_window

_REVIEW_FIELDS = {"validation", "quality", "quality_score"}


def policy_input(context: PlanContext, config: PoliciesConfig) -> dict[str, Any]:
    now = context.now.astimezone(UTC) if context.now.tzinfo else context.now.replace(tzinfo=UTC)
    spec = context.task_spec
    plan = {k: v for k, v in context.plan.to_document().items() if k not in _REVIEW_FIELDS}
    return {
        "plan": plan,
        "environment": context.environment,
        "total_assets": context.total_assets,
        "requester": context.requester,
        "stage": context.stage,
        "time": isoformat(now),
        "weekday": WEEKDAYS[now.weekday()],
        "hour_utc": now.hour,
        "minute_of_day": now.hour * 60 + now.minute,
        "clock": f"{now.hour:02d}:{now.minute:02d}",
        "task": (
            {
                "task_type": spec.task_type,
                "risk_level": spec.risk_level,
                "constraints": spec.constraints.to_document() if spec.constraints else {},
            }
            if spec
            else None
        ),
        "config": {
            "change_windows": [parse_window(w).as_input() for w in config.change_windows],
            "max_resource_changes": config.max_resource_changes,
            "max_step_retries": config.max_step_retries,
        },
    }
