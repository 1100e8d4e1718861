from __future__ import annotations

import logging

from core.config import PoliciesConfig
from core.errors import PolicyError
from core.validation.base import Check, CheckResult, PlanContext
from core.validation.evaluator import PackageVerdict, PolicyEvaluator
from core.validation.policy_input import policy_input
from core.validation.policy_set import DISABLED_NOTE

logger = logging.getLogger(__name__)


class PolicyCheck(Check):
    """One verdict per policy package ("policy: production_safety"). Fails closed: a package that
    errors, or an evaluator that cannot answer, denies the plan and says so. Packages named in
    ``policies.disable`` are not judged: whatever the evaluator says for them is ignored, and each
    shows as a disabled line instead."""

    name = "policy"
    kind = "policy"

    def __init__(self, evaluator: PolicyEvaluator, config: PoliciesConfig) -> None:
        self.evaluator = evaluator
        self.config = config

    async def run(self, context: PlanContext) -> CheckResult:
        results = await self.run_all(context)
        return CheckResult(
            self.name,
            self.kind,
            all(r.passed for r in results),
            tuple(m for r in results for m in r.messages),
            tuple(w for r in results for w in r.warnings),
            tuple(a for r in results for a in r.approval_reasons),
        )

    async def run_all(self, context: PlanContext) -> list[CheckResult]:
        try:
            verdicts = await self.evaluator.evaluate(policy_input(context, self.config))
        except PolicyError as exc:
            logger.warning("policy evaluation failed: %s", exc)
            return [
                CheckResult(
                    self.name,
                    self.kind,
                    False,
                    (
                        f"Policies could not be evaluated ({exc}), so the plan is denied until they can be. "
                        "Check the policy server or the policy files, then ask again.",
                    ),
                )
            ]
        disabled = self.config.disable
        judged = [self._result(v) for v in verdicts if v.package not in disabled]
        return judged + [self._disabled(package) for package in disabled]

    def _disabled(self, package: str) -> CheckResult:
        return CheckResult(
            f"policy: {package} — {DISABLED_NOTE}",
            self.kind,
            True,
            (f"Policy {package} is turned off in this deployment (policies.disable); it did not judge this plan.",),
            disabled=True,
        )

    def _result(self, verdict: PackageVerdict) -> CheckResult:
        name = f"policy: {verdict.package}"
        if verdict.error is not None:
            logger.warning("policy package %s errored: %s", verdict.package, verdict.error)
            return CheckResult(
                name,
                self.kind,
                False,
                (
                    f"Policy {verdict.package} errored at evaluation and so denies the plan (fail closed): "
                    f"{verdict.error}. Fix the policy (`opspilot policy test`), then ask again.",
                ),
            )
        approvals = tuple(f"Needs a person's approval: {reason}" for reason in verdict.require_approval)
        if verdict.deny:
            return CheckResult(name, self.kind, False, verdict.deny, verdict.warn, verdict.require_approval)
        return CheckResult(name, self.kind, True, approvals, verdict.warn, verdict.require_approval)
