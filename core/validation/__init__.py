"""Layer 4: every plan passes schema, policy and safety checks before it reaches an approver."""

from core.validation.base import Check, CheckResult, PlanContext
from core.validation.pipeline import ValidationPipeline
from core.validation.schema import SchemaCheck

__all__ = ["Check", "CheckResult", "PlanContext", "SchemaCheck", "ValidationPipeline"]
