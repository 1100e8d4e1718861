"""Safety checks in Python: the inventory, one phase per asset, readable conditions, bounded durations."""

from __future__ import annotations

from core.validation import PlanContext, SafetyCheck


async def problems(plan, fleet, environment: str | None = None) -> tuple[str, ...]:
    result = await SafetyCheck().run(PlanContext(plan=plan, fleet=fleet))
    assert result.name == "safety" and result.passed == (not result.messages)
    return result.messages


async def test_rollout_tool_plan_over_real_assets_is_safe(make_plan, fleet, prod_web) -> None:
    assert await problems(make_plan(prod_web), fleet) == ()


async def test_asset_in_two_phases_is_refused(make_plan, phase, fleet) -> None:
    assets = ["web-prod-001", "web-prod-002"]
    plan = make_plan(assets, phases=[phase("Canary", assets[:1]), phase("Wave 1", assets)])
    assert await problems(plan, fleet) == (
        "web-prod-001 is in both 'Canary' and 'Wave 1'; each asset must be changed in exactly one phase.",
    )


async def test_assets_missing_from_inventory_are_named(make_plan, fleet) -> None:
    plan = make_plan(["web-prod-001", "web-prod-999"])
    assert await problems(plan, fleet) == (
        "web-prod-999 is not in the inventory; remove it from the plan or add it to the fleet file.",
    )


async def test_production_plan_may_not_touch_staging_assets(make_plan, fleet) -> None:
    plan = make_plan(["web-prod-001", "web-stg-002"])
    assert await problems(plan, fleet) == (
        "web-stg-002 (staging) is not in production; a production plan may only change production assets.",
    )


async def test_unreadable_rollback_condition_and_threshold_are_refused(make_plan, fleet) -> None:
    phases = [
        {
            "name": "Canary",
            "assets": ["web-prod-001"],
            "rollback_if": "errors are high",
            "health_checks": [{"type": "latency_p99", "threshold": "fast enough"}],
        }
    ]
    found = await problems(make_plan(["web-prod-001"], phases=phases), fleet)
    assert found == (
        "Phase 'Canary': rollback_if cannot read 'errors are high' in 'errors are high': write '<metric> <op> <number>', e.g. 'error_rate > 1%'.",
        "Phase 'Canary': latency_p99 health check: cannot read threshold 'fast enough' for latency_p99; write e.g. '< 1%'.",
    )


async def test_waits_and_timeouts_beyond_limits_are_refused(make_plan, fleet) -> None:
    phases = [
        {
            "name": "Canary",
            "assets": ["web-prod-001"],
            "wait_time": "3d",
            "rollback_if": "error_rate > 1%",
            "health_checks": [{"type": "error_rate", "threshold": "< 1%", "timeout": "2h"}],
        },
        {"name": "Wave 1", "assets": ["web-prod-002"], "wait_time": "0s"},
    ]
    steps = [{"name": "drain", "command": "opsctl drain", "timeout": "2d"}]
    found = await problems(make_plan(["web-prod-001", "web-prod-002"], phases=phases, steps=steps), fleet)
    assert found == (
        "Phase 'Canary' waits 3d, longer than the 24h limit; shorten it.",
        "Phase 'Canary': the error_rate health check times out after 2h, longer than the 1h limit; shorten it.",
        "Step 'drain' times out after 2d, longer than the 24h limit; shorten it.",
    )


async def test_phases_must_cover_exactly_the_affected_assets(make_plan, phase, fleet) -> None:
    plan = make_plan(["web-prod-001", "web-prod-002"], phases=[phase("Canary", ["web-prod-001", "web-prod-003"])])
    assert await problems(plan, fleet) == (
        "web-prod-002 is affected but in no phase; add it to a phase or drop it from affected_assets.",
        "web-prod-003 is in a phase but not in affected_assets; list every asset the plan changes.",
        "There are changes for web-prod-002 but no phase runs them; put them in a phase.",
    )


async def test_without_an_inventory_the_check_fails_closed(make_plan, prod_web) -> None:
    found = await problems(make_plan(prod_web), None)
    assert found == (
        "The inventory could not be read, so the plan's assets cannot be checked; fix inventory.path and ask again.",
    )


async def test_a_change_plan_with_nothing_to_run_is_refused() -> None:
    from core.domain import Plan, PlanPayload
    from core.validation.base import PlanContext
    from core.validation.safety import SafetyCheck

    empty = Plan(
        id="p",
        task_id="t",
        type="patch_plan",
        environment="staging",
        payload=PlanPayload(summary="patch", changes=[{"asset_id": "web-stg-001", "action": "apply_patch"}]),
    )
    result = await SafetyCheck().run(PlanContext(plan=empty, fleet=None))
    assert not result.passed
    assert any("neither phases nor steps" in m for m in result.messages)
