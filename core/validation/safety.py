"""Safety checks that need Python rather than Rego: the inventory, the condition grammar, durations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from core.domain import Plan
from core.executor.conditions import parse_condition, threshold_holds
from core.inventory import Fleet
from core.timeutil import format_duration, parse_duration
from core.validation.base import Check, CheckResult, PlanContext

_THRESHOLD_METRICS = {"error_rate", "latency_p99", "cpu"}


@dataclass(frozen=True)
class SafetyLimits:
    max_wait_seconds: float = 24 * 3600
    max_health_timeout_seconds: float = 3600
    max_step_timeout_seconds: float = 24 * 3600


class SafetyCheck(Check):
    name = "safety"
    kind = "safety"

    def __init__(self, limits: SafetyLimits | None = None) -> None:
        self.limits = limits or SafetyLimits()

    async def run(self, context: PlanContext) -> CheckResult:
        plan = context.plan
        problems = [
            *_something_to_run(plan),
            *_assets_once(plan),
            *_phases_cover_affected(plan),
            *_known_assets(plan, context.fleet, context.environment),
            *_conditions(plan),
            *_durations(plan, self.limits),
        ]
        return CheckResult(self.name, self.kind, not problems, tuple(dict.fromkeys(problems)))


def _something_to_run(plan: Plan) -> Iterator[str]:
    payload = plan.payload
    if payload.report_only or payload.phases:
        return
    if not payload.steps:
        yield "The plan has neither phases nor steps, so approving it would run nothing; ask again for a plan with phases."
    elif payload.affected_assets:
        yield (
            f"{_few(sorted(payload.affected_assets))} {_is(payload.affected_assets)} affected but the plan has no phases; "
            "asset changes run in phases (canary first)."
        )


def _assets_once(plan: Plan) -> Iterator[str]:
    seen: dict[str, str] = {}
    for phase in plan.payload.phases:
        for asset in phase.assets:
            if asset in seen:
                where = (
                    f"twice in phase '{phase.name}'"
                    if seen[asset] == phase.name
                    else f"in both '{seen[asset]}' and '{phase.name}'"
                )
                yield f"{asset} is {where}; each asset must be changed in exactly one phase."
            else:
                seen[asset] = phase.name


def _phases_cover_affected(plan: Plan) -> Iterator[str]:
    payload = plan.payload
    if not payload.phases:
        return
    phased = {a for p in payload.phases for a in p.assets}
    affected = set(payload.affected_assets)
    if missing := sorted(affected - phased):
        yield f"{_few(missing)} {_is(missing)} affected but in no phase; add {_it(missing)} to a phase or drop {_it(missing)} from affected_assets."
    if extra := sorted(phased - affected):
        yield f"{_few(extra)} {_is(extra)} in a phase but not in affected_assets; list every asset the plan changes."
    if unchanged := sorted({c.asset_id for c in payload.changes} - phased):
        yield f"There are changes for {_few(unchanged)} but no phase runs them; put them in a phase."


def _known_assets(plan: Plan, fleet: Fleet | None, environment: str) -> Iterator[str]:
    if fleet is None:
        yield "The inventory could not be read, so the plan's assets cannot be checked; fix inventory.path and ask again."
        return
    if plan.payload.report_only:
        return
    by_id = fleet.by_id()
    named = dict.fromkeys([*plan.payload.affected_assets, *(a for p in plan.payload.phases for a in p.assets)])
    if unknown := [a for a in named if a not in by_id]:
        yield f"{_few(unknown)} {_is(unknown)} not in the inventory; remove {_it(unknown)} from the plan or add {_it(unknown)} to the fleet file."
    if environment != "all":
        elsewhere = [f"{a} ({by_id[a].environment})" for a in named if a in by_id and by_id[a].environment != environment]
        if elsewhere:
            yield f"{_few(elsewhere)} {_is(elsewhere)} not in {environment}; a {environment} plan may only change {environment} assets."


def _conditions(plan: Plan) -> Iterator[str]:
    for phase in plan.payload.phases:
        if phase.rollback_if is not None:
            try:
                parse_condition(phase.rollback_if)
            except ValueError as exc:
                yield f"Phase '{phase.name}': rollback_if {exc}."
        for check in phase.health_checks:
            if check.threshold and check.type in _THRESHOLD_METRICS:
                try:
                    threshold_holds(check.type, check.threshold, {})
                except ValueError as exc:
                    yield f"Phase '{phase.name}': {check.type} health check: {exc}."


def _durations(plan: Plan, limits: SafetyLimits) -> Iterator[str]:
    for phase in plan.payload.phases:
        yield from _bounded(f"Phase '{phase.name}' waits", phase.wait_time, limits.max_wait_seconds, may_be_zero=True)
        for check in phase.health_checks:
            yield from _bounded(
                f"Phase '{phase.name}': the {check.type} health check times out after",
                check.timeout,
                limits.max_health_timeout_seconds,
            )
    for step in plan.payload.steps:
        yield from _bounded(f"Step '{step.name}' times out after", step.timeout, limits.max_step_timeout_seconds)


def _bounded(what: str, duration: str | None, limit: float, *, may_be_zero: bool = False) -> Iterator[str]:
    if duration is None:
        return
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        yield f"{what} {duration!r}: {exc}."
        return
    if seconds <= 0 and not may_be_zero:
        yield f"{what} {duration}; use a positive duration."
    elif seconds > limit:
        yield f"{what} {duration}, longer than the {format_duration(limit)} limit; shorten it."


def _is(items: list[str]) -> str:
    return "is" if len(items) == 1 else "are"


def _it(items: list[str]) -> str:
    return "it" if len(items) == 1 else "them"


def _few(items: list[str], shown: int = 5) -> str:
    head = ", ".join(items[:shown])
    return f"{head} and {len(items) - shown} more" if len(items) > shown else head
