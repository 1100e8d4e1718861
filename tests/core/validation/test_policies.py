"""Each shipped Rego policy denies its bad cases with a message saying what to change, and allows good
plans. Every test runs on both evaluators (in-process regorus and a remote OPA), which must agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.config import PoliciesConfig
from core.domain import Plan
from core.validation import CheckResult, PlanContext, PolicyCheck

TUESDAY_10_UTC = datetime(2024, 12, 3, 10, 0, tzinfo=UTC)
SATURDAY_2_UTC = datetime(2024, 12, 7, 2, 0, tzinfo=UTC)


async def judge(
    make_evaluator,
    plan: Plan,
    *,
    config: PoliciesConfig | None = None,
    stage: str = "plan",
    now: datetime = TUESDAY_10_UTC,
) -> dict[str, CheckResult]:
    check = PolicyCheck(await make_evaluator(), config or PoliciesConfig())
    results = await check.run_all(PlanContext(plan=plan, requester="U0REQUESTER", now=now, stage=stage))
    return {r.name: r for r in results}


def denials(results: dict[str, CheckResult]) -> list[str]:
    return [m for r in results.values() if not r.passed for m in r.messages]


# -- production_safety ---------------------------------------------------------------------------


async def test_rollout_tool_plan_for_production_passes_every_policy(make_evaluator, make_plan, prod_web) -> None:
    results = await judge(make_evaluator, make_plan(prod_web))
    assert set(results) == {
        "policy: production_safety",
        "policy: sop_safety",
        "policy: image_safety",
        "policy: terraform_safety",
    }
    assert all(r.passed for r in results.values()), denials(results)


async def test_production_plan_without_canary_first_is_denied(make_evaluator, make_plan, phase, prod_web) -> None:
    phases = [phase(f"Wave {i + 1}", prod_web[i * 4 : (i + 1) * 4]) for i in range(6)]
    results = await judge(make_evaluator, make_plan(prod_web, phases=phases))
    verdict = results["policy: production_safety"]
    assert not verdict.passed
    assert verdict.messages == (
        "Production changes must start with a canary phase; the first phase is 'Wave 1'. "
        "Add a small phase named 'Canary' first (at most 10% of the assets).",
    )


async def test_production_phase_over_twenty_percent_is_denied_with_the_limit(make_evaluator, make_plan, phase, prod_web) -> None:
    phases = [phase("Canary", prod_web[:2]), phase("Wave 1", prod_web[2:])]
    results = await judge(make_evaluator, make_plan(prod_web, phases=phases))
    assert denials(results) == [
        "Phase 2 'Wave 1' changes 22 of 24 assets (92%); a production phase may change at most 20% (4 here). "
        "Split it into smaller waves."
    ]


async def test_single_asset_phases_pass_the_twenty_percent_rule_for_tiny_plans(make_evaluator, make_plan, phase) -> None:
    assets = ["web-prod-001", "web-prod-002", "web-prod-003"]
    phases = [phase("Canary", assets[:1]), phase("Wave 1", assets[1:2]), phase("Wave 2", assets[2:])]
    results = await judge(make_evaluator, make_plan(assets, phases=phases))
    assert all(r.passed for r in results.values()), denials(results)


async def test_production_phase_without_health_checks_or_rollback_is_denied(make_evaluator, make_plan, phase) -> None:
    assets = [f"web-prod-00{i}" for i in range(1, 6)]
    bare = {"name": "Wave 1", "assets": assets[1:2]}
    phases = [phase("Canary", assets[:1]), bare, *(phase(f"Wave {i}", [a]) for i, a in enumerate(assets[2:], 2))]
    results = await judge(make_evaluator, make_plan(assets, phases=phases))
    assert sorted(denials(results)) == [
        "Phase 2 'Wave 1' has no health checks; add at least one (e.g. error_rate below 1%) so a bad phase is caught before the next one.",
        "Phase 2 'Wave 1' has no rollback condition; set rollback_if, e.g. 'error_rate > 1%'.",
    ]


async def test_production_changes_without_phases_are_denied(make_evaluator, make_plan) -> None:
    results = await judge(make_evaluator, make_plan(["web-prod-001"], phases=[]))
    assert denials(results) == [
        "The plan changes 1 production asset(s) without phases; roll out in phases, a small canary first."
    ]


async def test_staging_plan_may_use_big_phases(make_evaluator, make_plan, phase) -> None:
    assets = ["web-stg-002", "web-stg-005", "web-stg-006"]
    results = await judge(make_evaluator, make_plan(assets, "staging", phases=[phase("All at once", assets)]))
    assert all(r.passed for r in results.values())


async def test_production_run_outside_change_window_is_denied_at_start(make_evaluator, make_plan, prod_web) -> None:
    config = PoliciesConfig(change_windows=["sat-sun 00:00-06:00"])
    results = await judge(make_evaluator, make_plan(prod_web), config=config, stage="run", now=TUESDAY_10_UTC)
    assert denials(results) == [
        "Production runs may only start inside a change window (sat-sun 00:00-06:00 UTC); it is Tuesday 10:00 UTC. "
        "Ask again inside a window: an approved plan cannot be re-approved."
    ]


async def test_production_plan_outside_change_window_only_warns_while_planning(make_evaluator, make_plan, prod_web) -> None:
    config = PoliciesConfig(change_windows=["sat-sun 00:00-06:00"])
    results = await judge(make_evaluator, make_plan(prod_web), config=config, stage="plan", now=TUESDAY_10_UTC)
    verdict = results["policy: production_safety"]
    assert verdict.passed
    assert verdict.warnings == (
        "It is outside every change window now (sat-sun 00:00-06:00 UTC): a run approved before the window opens will refuse to start.",
    )


async def test_production_run_inside_change_window_is_allowed(make_evaluator, make_plan, prod_web) -> None:
    config = PoliciesConfig(change_windows=["mon-fri 22:00-04:00", "sat-sun 00:00-06:00"])
    results = await judge(make_evaluator, make_plan(prod_web), config=config, stage="run", now=SATURDAY_2_UTC)
    assert all(r.passed for r in results.values()), denials(results)


# -- sop_safety ----------------------------------------------------------------------------------


def sop(make_plan, steps: list[dict]) -> Plan:
    return make_plan([], "staging", phases=[], changes=[], steps=steps, plan_type="sop", agent="sop_agent")


async def test_destructive_sop_step_without_confirmation_is_denied(make_evaluator, make_plan) -> None:
    steps = [{"name": "prepare"}, {"name": "remove-old-logs", "command": "find /var/log -name '*.gz' -mtime +14 -delete"}]
    results = await judge(make_evaluator, sop(make_plan, steps))
    assert denials(results) == [
        "Step 2 'remove-old-logs' runs a destructive command (find -delete) without a confirmation step: set "
        "requires_confirmation: true on it, or make it depend on a step that asks a person to confirm."
    ]


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /var/lib/app",
        "psql -c 'DROP TABLE sessions'",
        "terraform destroy -auto-approve",
        "kubectl delete ns payments",
        "aws rds delete-db-instance --db-instance-identifier main",
        "sudo reboot",
    ],
)
async def test_each_kind_of_destructive_command_needs_confirmation(make_evaluator, make_plan, command: str) -> None:
    unconfirmed = await judge(make_evaluator, sop(make_plan, [{"name": "act", "command": command}]))
    confirmed = await judge(make_evaluator, sop(make_plan, [{"name": "act", "command": command, "requires_confirmation": True}]))
    assert not unconfirmed["policy: sop_safety"].passed
    assert confirmed["policy: sop_safety"].passed


async def test_confirmation_step_the_destructive_step_depends_on_is_enough(make_evaluator, make_plan) -> None:
    steps = [
        {"name": "confirm", "description": "On-call confirms the maintenance window", "requires_confirmation": True},
        {"name": "truncate", "command": "psql -c 'TRUNCATE audit_tmp'", "depends_on": ["confirm"]},
    ]
    assert (await judge(make_evaluator, sop(make_plan, steps)))["policy: sop_safety"].passed


async def test_unbounded_sop_retries_are_denied(make_evaluator, make_plan) -> None:
    steps = [{"name": "verify", "command": "opsctl health", "retries": 9, "timeout": "5m"}]
    results = await judge(make_evaluator, sop(make_plan, steps), config=PoliciesConfig(max_step_retries=3))
    assert denials(results) == [
        "Step 1 'verify' retries 9 times; at most 3 retries are allowed. Lower retries, or fix what makes the step fail."
    ]


async def test_sop_retries_without_timeout_warn(make_evaluator, make_plan) -> None:
    results = await judge(make_evaluator, sop(make_plan, [{"name": "verify", "command": "opsctl health", "retries": 2}]))
    verdict = results["policy: sop_safety"]
    assert verdict.passed
    assert verdict.warnings == ("Step 1 'verify' retries without a timeout; set timeout so every attempt is bounded in time.",)


# -- image_safety --------------------------------------------------------------------------------


def promotion(make_plan, environment: str = "production", **details) -> Plan:
    change = {"asset_id": "ubuntu-base", "action": "promote", "image": "ubuntu-base", "to_version": "2.4.2", "details": details}
    return make_plan([], environment, phases=[], changes=[change], plan_type="image_plan", agent="image_agent")


async def test_validated_scanned_image_from_staging_may_be_promoted_to_production(make_evaluator, make_plan) -> None:
    results = await judge(make_evaluator, promotion(make_plan, validation="passed", scan="passed", source="staging"))
    assert all(r.passed for r in results.values()), denials(results)


async def test_validate_tool_results_count_as_evidence(make_evaluator, make_plan) -> None:
    plan = promotion(
        make_plan,
        validation={"passed": True, "checks": []},
        scan={"critical": 0, "high": 0, "medium": 2, "low": 5},
        source="staging",
    )
    assert (await judge(make_evaluator, plan))["policy: image_safety"].passed


async def test_image_without_passed_validation_or_scan_is_not_promoted(make_evaluator, make_plan) -> None:
    results = await judge(make_evaluator, promotion(make_plan, validation="pending", source="staging"))
    assert sorted(denials(results)) == [
        "Image ubuntu-base 2.4.2 has not passed its security scan (scan: missing); scan it and fix the findings before promoting.",
        "Image ubuntu-base 2.4.2 has not passed validation (validation: pending); validate it, then promote it.",
    ]


async def test_image_with_critical_vulnerabilities_is_not_promoted(make_evaluator, make_plan) -> None:
    plan = promotion(make_plan, "staging", validation="passed", scan={"critical": 2, "high": 0}, source="build")
    assert sorted(denials(await judge(make_evaluator, plan))) == [
        "Image ubuntu-base 2.4.2 has 2 critical vulnerabilities; rebuild it with patched packages before promoting.",
        "Image ubuntu-base 2.4.2 has not passed its security scan (scan: 2 critical, 0 high); scan it and fix the findings before promoting.",
    ]


async def test_image_never_goes_to_production_straight_from_build(make_evaluator, make_plan) -> None:
    to_production = promotion(make_plan, validation="passed", scan="passed", source="build")
    to_staging = promotion(make_plan, "staging", validation="passed", scan="passed", source="build")
    assert denials(await judge(make_evaluator, to_production)) == [
        "Image ubuntu-base 2.4.2 would go to production straight from the build; promote it to staging first and let it run there."
    ]
    assert not denials(await judge(make_evaluator, to_staging))


# -- terraform_safety ----------------------------------------------------------------------------


def terraform(make_plan, *resources: tuple[str, str, list[str]]) -> Plan:
    changes = [
        {"asset_id": address, "action": actions[-1], "details": {"resource_type": kind, "address": address, "actions": actions}}
        for kind, address, actions in resources
    ]
    return make_plan([], "production", phases=[], changes=changes, plan_type="adapter_plan", agent="adapter_agent")


async def test_terraform_destroying_a_database_is_denied(make_evaluator, make_plan) -> None:
    plan = terraform(make_plan, ("aws_db_instance", "aws_db_instance.main", ["delete", "create"]))
    verdict = (await judge(make_evaluator, plan))["policy: terraform_safety"]
    assert verdict.messages == (
        "Terraform would destroy aws_db_instance.main, a stateful aws_db_instance: its data would be lost. Change the plan "
        "so it updates in place (add lifecycle { prevent_destroy = true }), or migrate the data and remove it by hand.",
    )


async def test_terraform_replacing_stateless_resources_is_allowed(make_evaluator, make_plan) -> None:
    plan = terraform(
        make_plan,
        ("aws_instance", "aws_instance.web", ["delete", "create"]),
        ("aws_db_instance", "aws_db_instance.main", ["update"]),
    )
    assert (await judge(make_evaluator, plan))["policy: terraform_safety"].passed


async def test_large_terraform_plan_is_allowed_but_needs_a_person(make_evaluator, make_plan) -> None:
    plan = terraform(make_plan, *(("aws_security_group_rule", f"aws_security_group_rule.r{i}", ["create"]) for i in range(4)))
    verdict = (await judge(make_evaluator, plan, config=PoliciesConfig(max_resource_changes=3)))["policy: terraform_safety"]
    assert verdict.passed
    assert verdict.approval_reasons == ("the Terraform plan changes 4 resources, more than 3 (policies.max_resource_changes).",)
    assert verdict.messages == (
        "Needs a person's approval: the Terraform plan changes 4 resources, more than 3 (policies.max_resource_changes).",
    )
