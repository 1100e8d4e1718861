from __future__ import annotations

from core.config import Config, PoliciesConfig
from core.store import Store
from core.validation.evaluator import PolicyEvaluator
from core.validation.opa import OpaEvaluator
from core.validation.pipeline import ValidationPipeline
from core.validation.policy import PolicyCheck
from core.validation.policy_set import PolicySet, load_policy_set
from core.validation.quality import QualityScorer
from core.validation.regorus_evaluator import RegorusEvaluator
from core.validation.safety import SafetyCheck
from core.validation.schema import SchemaCheck


def build_evaluator(config: PoliciesConfig, policies: PolicySet | None = None) -> PolicyEvaluator:
    """OPA when ``policies.opa_url`` (or ``OPA_URL``) is set, else regorus over the policy set
    (built-ins + ``policies.dir``/``dirs``, without ``policies.disable``).

    The set is loaded in both cases, so at startup a policy file that does not parse (named with file
    and line), a team file redeclaring a built-in package, or an unknown ``disable`` name is refused.
    """
    policies = policies or load_policy_set(config)
    if config.opa_url:
        return OpaEvaluator(config.opa_url, timeout_seconds=config.opa_timeout_seconds)
    return RegorusEvaluator.from_policy_set(policies)


def build_validator(config: Config, store: Store | None, evaluator: PolicyEvaluator | None = None) -> ValidationPipeline:
    """Schema, policies and safety; plus the quality score when there is a store to read history from."""
    evaluator = evaluator or build_evaluator(config.policies)
    checks = [SchemaCheck(), PolicyCheck(evaluator, config.policies), SafetyCheck()]
    return ValidationPipeline(checks, QualityScorer(store, config.approval) if store is not None else None)
