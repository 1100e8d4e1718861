"""The quality score from real store data, and how it gates environments and approval."""

from __future__ import annotations

import uuid

from core.config import ApprovalConfig
from core.domain import Plan, PlanPayload, Run, Status, Task
from core.intake import Ask
from core.validation import CheckResult, PlanContext, QualityScorer

REQUESTER, APPROVER = "U0REQUESTER", "U0APPROVER1"


async def ask(service, text: str) -> Plan:
    outcome = await service.submit(Ask(text=text, user_id=REQUESTER, channel_id="C0OPS"))
    assert outcome.plan is not None, outcome.message
    return outcome.plan


async def approve_and_finish(service, plan: Plan) -> Run:
    decision = await service.decide(plan.id, APPROVER, "approved")
    await service.executor.wait_idle(30)
    return await service.store.get_run(decision.run.id)


def dimensions(plan: Plan) -> tuple[int, ...]:
    q = plan.quality
    return q.structural, q.policy_compliance, q.test_coverage, q.operational_history, q.human_review


async def seed_history(store, *, rejected: int = 0, rolled_back: int = 0) -> None:
    """Earlier drift plans people rejected, and earlier drift runs that rolled back."""
    for index in range(rejected + rolled_back):
        task = Task(id=str(uuid.uuid4()), user_intent="fix drift", status=Status(state="planned"))
        await store.add_task(task, REQUESTER)
        state = "rejected" if index < rejected else "approved"
        plan = Plan(
            id=str(uuid.uuid4()),
            task_id=task.id,
            type="drift_plan",
            agent="drift_agent",
            environment="production",
            payload=PlanPayload(summary="earlier drift fix"),
            status=Status(state=state),
        )
        await store.add_plan(plan, "opspilot")
        if state == "approved":
            await store.add_run(
                Run(id=str(uuid.uuid4()), plan_id=plan.id, environment="production", status=Status(state="rolled_back")), APPROVER
            )


async def test_first_production_plan_scores_65_and_waits_for_a_person(service) -> None:
    plan = await ask(service, "fix drift on prod web servers")
    assert plan.state == "awaiting_approval"
    assert dimensions(plan) == (20, 20, 5, 10, 10)
    assert plan.quality_score == plan.quality.total == 65
    assert plan.quality.requires_approval
    assert plan.quality.allowed_environments == ["production", "staging", "development"]
    quality = next(c for c in plan.validation.checks if c.name == "quality")
    assert quality.passed and quality.messages == [
        "Quality 65/100: may run in production, staging and development, with a person's approval."
    ]
    stored = await service.get_plan(plan.id)
    assert stored.quality == plan.quality and stored.quality_score == 65


async def test_same_change_completed_in_staging_counts_as_tested(service) -> None:
    staging = await ask(service, "fix drift on staging web servers")
    assert (await approve_and_finish(service, staging)).state == "completed"
    plan = await ask(service, "fix drift on prod web servers")
    # tested in staging; one completed run (2+1)/(4+1); one approval (2+1)/(4+1)
    assert dimensions(plan) == (20, 20, 20, 12, 12)
    assert plan.quality.total == 84
    assert plan.state == "awaiting_approval" and plan.quality.requires_approval, "auto-approval is off by default"


async def test_a_different_change_in_staging_does_not_count(service) -> None:
    staging = await ask(service, "fix drift on staging db servers")  # postgres-base, not ubuntu-base
    assert (await approve_and_finish(service, staging)).state == "completed"
    plan = await ask(service, "fix drift on prod web servers")
    assert plan.quality.test_coverage == 5


async def test_rollbacks_lower_operational_history(config, make_service) -> None:
    config.executor.simulate.fail_assets = ["web-stg-002"]
    service = await make_service()
    staging = await ask(service, "fix drift on staging web servers")
    assert (await approve_and_finish(service, staging)).state == "rolled_back"
    plan = await ask(service, "fix drift on prod web servers")
    assert plan.quality.operational_history == 8  # (0 + 2) / (1 + 4)
    assert plan.quality.test_coverage == 5, "a rolled back run does not count as tested"


async def test_rejections_lower_human_review(service) -> None:
    await seed_history(service.store, rejected=3)
    plan = await ask(service, "fix drift on prod web servers")
    assert plan.quality.human_review == 6  # (0 + 2) / (3 + 4)
    assert plan.state == "awaiting_approval"


async def test_low_score_keeps_production_plan_in_draft_saying_how_to_raise_it(service) -> None:
    await seed_history(service.store, rejected=10, rolled_back=10)
    plan = await ask(service, "fix drift on prod web servers")
    assert dimensions(plan) == (20, 20, 5, 3, 10)  # 10 approvals, 10 rejections: reviews stay neutral
    assert plan.state == "draft" and not plan.validation.overall_valid
    assert plan.quality.allowed_environments == ["staging", "development"]
    [message] = next(c for c in plan.validation.checks if c.name == "quality").messages
    assert message == (
        "Quality 58/100 is below the 60 a production plan needs (it allows staging and development only). To raise it: "
        "run the same change in staging first and let it complete (tested lower 5/20); drift_agent's runs: 0 completed, "
        "10 rolled back or failed; completed runs raise it (history 3/20)."
    )
    assert plan.status.reason.startswith("failed validation: Quality 58/100")
    staging = await ask(service, "fix drift on staging web servers")
    assert staging.state == "awaiting_approval", "the same score still allows staging"


async def test_development_has_nothing_lower_so_it_counts_as_tested(service) -> None:
    plan = await ask(service, "fix drift on dev web servers")
    assert plan.quality.test_coverage == 20 and plan.quality.total == 80
    assert plan.state == "awaiting_approval", "80 skips approval only when a team opts in"


async def test_teams_may_opt_in_to_auto_approve_high_scores(config, make_service) -> None:
    config.approval.auto_approve_high_quality = True
    service = await make_service()
    prod = await ask(service, "fix drift on prod web servers")
    assert prod.state == "awaiting_approval" and prod.quality.requires_approval, "65 still needs a person"
    dev = await ask(service, "fix drift on dev web servers")
    assert dev.state == "approved" and not dev.quality.requires_approval
    assert dev.approval.decided_by == "opspilot" and "quality 80/100" in dev.approval.reason
    await service.executor.wait_idle(30)
    [run] = await service.store.runs_for_plan(dev.id)
    assert run.state == "completed"
    again = await ask(service, "fix drift on dev api servers")
    assert again.quality.human_review == 10, "an auto-approval is not a human review"


async def test_a_policy_asking_for_a_person_overrides_auto_approval(service, make_plan, prod_web) -> None:
    scorer = QualityScorer(service.store, ApprovalConfig(auto_approve_high_quality=True, auto_approve_min_score=0))
    context = PlanContext(plan=make_plan(prod_web))
    passed = [CheckResult("schema", "schema", True), CheckResult("policy: terraform_safety", "policy", True)]
    asking = [*passed[:1], CheckResult("policy: terraform_safety", "policy", True, approval_reasons=("big plan",))]
    assert not (await scorer.score(context, passed))[0].requires_approval
    assert (await scorer.score(context, asking))[0].requires_approval


async def test_untested_sop_with_a_rollback_step_gets_the_self_guarding_credit(service) -> None:
    plan = await ask(service, "write an SOP for postgres failover in prod")
    assert any(s.when == "on_failure" for s in plan.payload.steps)
    assert plan.quality.test_coverage == 5 and plan.state == "awaiting_approval"


async def test_auto_approval_never_stands_in_for_a_rule_that_needs_several_people(config, make_service) -> None:
    from core.approvals.rules import ApprovalsConfig

    config.approval.auto_approve_high_quality = True
    config.approvals = ApprovalsConfig.model_validate(
        {
            "rules": [
                {"match": {"environment": "development"}, "approvers": {"users": ["U0APPROVER1", "U0APPROVER2"]}, "required": 2}
            ]
        }
    )
    service = await make_service()
    dev = await ask(service, "fix drift on dev web servers")
    assert dev.quality.total >= 80, "a score that would auto-approve under a one-person rule"
    assert dev.state == "awaiting_approval", "two people must approve, so the score does not"
