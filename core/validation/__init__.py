"""Layer 4: every plan passes schema, policy and safety checks before it reaches an approver,
and its quality score decides how much human review it needs."""

from core.validation.base import Check, CheckResult, PlanContext
from core.validation.evaluator import PackageVerdict, PolicyEvaluator
from core.validation.factory import build_evaluator, build_validator
from core.validation.opa import OpaEvaluator
from core.validation.pipeline import PlanReview, ValidationPipeline
from core.validation.policy import PolicyCheck
from core.validation.quality import QualityScorer
from core.validation.regorus_evaluator import RegorusEvaluator
from core.validation.safety import SafetyCheck, SafetyLimits
from core.validation.schema import SchemaCheck

__all__ = [
    "Check",
    "CheckResult",
    "OpaEvaluator",
    "PackageVerdict",
    "PlanContext",
    "PlanReview",
    "PolicyCheck",
    "PolicyEvaluator",
    "QualityScorer",
    "RegorusEvaluator",
    "SafetyCheck",
    "SafetyLimits",
    "SchemaCheck",
    "ValidationPipeline",
    "build_evaluator",
    "build_validator",
]
