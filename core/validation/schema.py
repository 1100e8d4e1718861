from __future__ import annotations

from core.schemas import errors_for
from core.validation.base import Check, CheckResult, PlanContext


class SchemaCheck(Check):
    name = "schema"
    kind = "schema"

    async def run(self, context: PlanContext) -> CheckResult:
        errors = errors_for("plan", context.plan.to_document())
        return CheckResult(self.name, self.kind, not errors, tuple(errors))
