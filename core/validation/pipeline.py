from __future__ import annotations

import logging
from dataclasses import dataclass

from core.domain import Quality, Validation, ValidationCheck
from core.validation.base import Check, CheckResult, PlanContext
from core.validation.quality import QualityScorer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanReview:
    validation: Validation
    quality: Quality | None = None


class ValidationPipeline:
    """Runs every check, then (with a scorer) the quality score and its "quality" verdict."""

    def __init__(self, checks: list[Check], scorer: QualityScorer | None = None) -> None:
        self.checks = checks
        self.scorer = scorer

    async def run(self, context: PlanContext) -> list[CheckResult]:
        results: list[CheckResult] = []
        for check in self.checks:
            try:
                results.extend(await check.run_all(context))
            except Exception as exc:  # a check that breaks denies: fail closed
                logger.exception("validation check %s errored", check.name)
                results.append(CheckResult(check.name, check.kind, False, (f"{check.name} check errored: {exc}",)))
        return results

    async def review(self, context: PlanContext) -> PlanReview:
        results = await self.run(context)
        quality = None
        if self.scorer is not None:
            try:
                quality, evidence = await self.scorer.score(context, results)
                results.append(self.scorer.verdict(context, quality, evidence))
            except Exception as exc:  # no score, no go
                logger.exception("quality score failed")
                results.append(CheckResult("quality", "quality", False, (f"The quality score could not be computed: {exc}",)))
        return PlanReview(summarize(results), quality)

    async def validate(self, context: PlanContext) -> Validation:
        return (await self.review(context)).validation


def summarize(results: list[CheckResult]) -> Validation:
    def passed(kind: str) -> bool:
        return all(r.passed for r in results if r.kind == kind)

    validation = Validation(
        schema_valid=passed("schema"),
        opa_valid=passed("policy"),
        safety_valid=passed("safety"),
        errors=[m for r in results if not r.passed for m in r.messages],
        warnings=[w for r in results for w in r.warnings],
        checks=[
            ValidationCheck(name=r.name, passed=r.passed, messages=list(r.messages) + list(r.warnings), disabled=r.disabled)
            for r in results
        ],
    )
    validation.overall_valid = validation.schema_valid and validation.opa_valid and validation.safety_valid and passed("quality")
    return validation
