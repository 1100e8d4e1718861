from __future__ import annotations

import asyncio

from core.schemas import errors_for
from core.validation.base import Check, CheckResult, PlanContext


class SchemaCheck(Check):
    name = "schema"
    kind = "schema"

    async def run(self, context: PlanContext) -> CheckResult:
        # Off the event loop: a large plan takes tens of milliseconds to check, and acks share the loop.
        errors = await asyncio.to_thread(errors_for, "plan", context.plan.to_document())
        return CheckResult(self.name, self.kind, not errors, tuple(errors))
