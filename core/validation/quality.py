"""The quality score (seed 001): five dimensions of 0–20 points, computed from the checks and the store.

- structural: 20 × share of the schema and safety checks that passed.
- policy compliance: 20 × share of the policy packages that allowed the plan.
- test coverage: 20 × share of the plan's change (its targets: action, image and target version of
  each change, and each step's command) that already completed a run, from a plan of the same agent
  and type, in a lower environment (production: staging or development; staging: development).
  Development has nothing below it and gets 20; so do reports. An untested plan that can catch and
  undo its own failure gets at least 5: its first phase is a canary with health checks and a
  rollback condition, or it has steps that run on failure (rollback steps).
- operational history: 20 × (completed + 2) / (finished + 4) over the agent's finished runs
  (completed, rolled back, failed). With no history that is the neutral 10; trust grows with
  successful runs and falls with rollbacks, a few runs never swing it far.
- human review: 20 × (approved + 2) / (decided + 4) over people's decisions on earlier plans of the
  same agent and type (auto-approvals are not reviews); 10 with no decisions yet.

Thresholds on the total: 60 and more allows production, 40–59 staging and development, below 40
development only. Approval is always required, except that a team may opt in
(``approval.auto_approve_high_quality``) to skip it at ``approval.auto_approve_min_score`` (80) and
more, unless a policy asks for a person (``require_approval``).

A first production plan with no history, valid and allowed by every policy, scores 20 + 20 + 5 +
10 + 10 = 65: production, with approval.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.approvals import SYSTEM_ACTOR
from core.config import ApprovalConfig
from core.domain import Plan, Quality
from core.store import Store
from core.validation.base import CheckResult, PlanContext

DIMENSION = 20
NEUTRAL = 10
CANARY_CREDIT = 5
PRIOR = 2  # pseudo-outcomes on each side: no history reads as neutral, one run never swings it far
PRODUCTION_MIN, STAGING_MIN = 60, 40
LOWER_ENVIRONMENTS = {"production": ("staging", "development"), "staging": ("development",), "development": ()}


@dataclass(frozen=True)
class Evidence:
    """The store data behind a score, kept to explain it."""

    tested_share: float
    completed_runs: int
    failed_runs: int
    approvals: int
    rejections: int


class QualityScorer:
    def __init__(self, store: Store, approval: ApprovalConfig) -> None:
        self.store = store
        self.approval = approval

    async def score(self, context: PlanContext, results: list[CheckResult]) -> tuple[Quality, Evidence]:
        plan = context.plan
        environment = gate_environment(context.environment)
        evidence = await self._evidence(plan, environment)
        test_coverage = DIMENSION if plan.is_report else round(DIMENSION * evidence.tested_share)
        if test_coverage < CANARY_CREDIT and guards_itself(plan):
            test_coverage = CANARY_CREDIT
        quality = Quality(
            structural=_share(results, ("schema", "safety")),
            policy_compliance=_share(results, ("policy",)),
            test_coverage=test_coverage,
            operational_history=_smoothed(evidence.completed_runs, evidence.failed_runs),
            human_review=_smoothed(evidence.approvals, evidence.rejections),
        )
        quality.total = (
            quality.structural
            + quality.policy_compliance
            + quality.test_coverage
            + quality.operational_history
            + quality.human_review
        )
        quality.allowed_environments = allowed_environments(quality.total)
        approval_reasons = [reason for r in results for reason in r.approval_reasons]
        quality.requires_approval = not (
            self.approval.auto_approve_high_quality
            and quality.total >= self.approval.auto_approve_min_score
            and not approval_reasons
            and all(r.passed for r in results)
        )
        return quality, evidence

    async def _evidence(self, plan: Plan, environment: str) -> Evidence:
        outcomes = await self.store.run_outcomes(plan.agent) if plan.agent else {}
        # Auto-approvals are not human reviews.
        decisions = await self.store.decision_counts(plan.agent, plan.type, exclude_decided_by=SYSTEM_ACTOR)
        return Evidence(
            tested_share=await self._tested_share(plan, environment),
            completed_runs=outcomes.get("completed", 0),
            failed_runs=outcomes.get("rolled_back", 0) + outcomes.get("failed", 0),
            approvals=decisions.get("approved", 0),
            rejections=decisions.get("rejected", 0),
        )

    async def _tested_share(self, plan: Plan, environment: str) -> float:
        if environment == "development":
            return 1.0
        tested = await self.store.completed_plans(plan.agent, plan.type, LOWER_ENVIRONMENTS.get(environment, ()))
        if not tested:
            return 0.0
        wanted = change_signature(plan)
        if not wanted:
            return 1.0
        done = set().union(*(change_signature(p) for p in tested))
        return len(wanted & done) / len(wanted)

    def verdict(self, context: PlanContext, quality: Quality, evidence: Evidence) -> CheckResult:
        """The "quality" check: does the score allow the plan's environment?"""
        plan = context.plan
        if plan.is_report:
            return CheckResult("quality", "quality", True, (f"Quality {quality.total}/100; a report, nothing will run.",))
        environment = gate_environment(context.environment)
        allowed = _listing(quality.allowed_environments)
        if environment in quality.allowed_environments:
            approval = "with a person's approval" if quality.requires_approval else "without approval (auto-approval is on)"
            return CheckResult("quality", "quality", True, (f"Quality {quality.total}/100: may run in {allowed}, {approval}.",))
        needed = PRODUCTION_MIN if environment == "production" else STAGING_MIN
        hints = improvements(plan, environment, quality, evidence)
        message = f"Quality {quality.total}/100 is below the {needed} a {environment} plan needs (it allows {allowed} only)." + (
            f" To raise it: {'; '.join(hints)}." if hints else ""
        )
        return CheckResult("quality", "quality", False, (message,))


def gate_environment(environment: str) -> str:
    """A plan for "all" environments touches production, so it is held to production's bar."""
    return "production" if environment == "all" else environment


def allowed_environments(total: int) -> list[str]:
    if total >= PRODUCTION_MIN:
        return ["production", "staging", "development"]
    if total >= STAGING_MIN:
        return ["staging", "development"]
    return ["development"]


def guards_itself(plan: Plan) -> bool:
    phases, steps = plan.payload.phases, plan.payload.steps
    guarded_canary = (
        bool(phases) and "canary" in phases[0].name.lower() and bool(phases[0].health_checks) and bool(phases[0].rollback_if)
    )
    return guarded_canary or any(s.when == "on_failure" for s in steps)


def change_signature(plan: Plan) -> frozenset[tuple[str, ...]]:
    """What "the same change" means: the targets of the changes and the commands of the steps."""
    payload = plan.payload
    targets: set[tuple[str, ...]] = {
        ("change", c.action, c.image or "", c.to_version or "") for c in payload.changes if c.image or c.to_version
    }
    targets |= {("step", s.command or s.name) for s in payload.steps}
    return frozenset(targets)


def improvements(plan: Plan, environment: str, quality: Quality, evidence: Evidence) -> list[str]:
    hints = []
    if quality.structural < DIMENSION:
        hints.append(f"fix the schema and safety findings (structure {quality.structural}/{DIMENSION})")
    if quality.policy_compliance < DIMENSION:
        hints.append(f"resolve the policy denials (policy {quality.policy_compliance}/{DIMENSION})")
    if quality.test_coverage < DIMENSION:
        lower = next(iter(LOWER_ENVIRONMENTS.get(environment, ())), "a lower environment")
        hints.append(
            f"run the same change in {lower} first and let it complete (tested lower {quality.test_coverage}/{DIMENSION})"
        )
    if quality.operational_history < NEUTRAL:
        hints.append(
            f"{plan.agent or 'this agent'}'s runs: {evidence.completed_runs} completed, {evidence.failed_runs} rolled back "
            f"or failed; completed runs raise it (history {quality.operational_history}/{DIMENSION})"
        )
    if quality.human_review < NEUTRAL:
        hints.append(
            f"approvers rejected {evidence.rejections} of {evidence.approvals + evidence.rejections} similar {plan.type} "
            f"plans; approved plans raise it (reviews {quality.human_review}/{DIMENSION})"
        )
    return hints


def _share(results: list[CheckResult], kinds: tuple[str, ...]) -> int:
    relevant = [r for r in results if r.kind in kinds and not r.disabled]
    if not relevant:
        return 0
    return round(DIMENSION * sum(r.passed for r in relevant) / len(relevant))


def _smoothed(good: int, bad: int) -> int:
    return round(DIMENSION * (good + PRIOR) / (good + bad + 2 * PRIOR))


def _listing(environments: list[str]) -> str:
    return environments[0] if len(environments) == 1 else ", ".join(environments[:-1]) + " and " + environments[-1]
