from __future__ import annotations

import logging

from core.domain import Validation, ValidationCheck
from core.validation.base import Check, CheckResult, PlanContext

logger = logging.getLogger(__name__)


class ValidationPipeline:
    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    async def run(self, context: PlanContext) -> list[CheckResult]:
        results = []
        for check in self.checks:
            try:
                results.append(await check.run(context))
            except Exception as exc:  # a check that breaks denies: fail closed
                logger.exception("validation check %s errored", check.name)
                results.append(CheckResult(check.name, check.kind, False, (f"{check.name} check errored: {exc}",)))
        return results

    async def validate(self, context: PlanContext) -> Validation:
        results = await self.run(context)
        return summarize(results)


def summarize(results: list[CheckResult]) -> Validation:
    def passed(kind: str) -> bool:
        return all(r.passed for r in results if r.kind == kind)

    validation = Validation(
        schema_valid=passed("schema"),
        opa_valid=passed("policy"),
        safety_valid=passed("safety"),
        errors=[m for r in results if not r.passed for m in r.messages],
        warnings=[w for r in results for w in r.warnings],
        checks=[ValidationCheck(name=r.name, passed=r.passed, messages=list(r.messages) + list(r.warnings)) for r in results],
    )
    validation.overall_valid = validation.schema_valid and validation.opa_valid and validation.safety_valid
    return validation
