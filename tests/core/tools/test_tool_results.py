"""Tools over the shipped sample data give the answers an operator would expect."""

from __future__ import annotations

from typing import Any

from core.service import OpsPilot


async def call(service: OpsPilot, name: str, **arguments: Any) -> dict[str, Any]:
    return await service.tools.call(name, arguments, service.tool_context)


async def test_risk_score_marks_only_assets_below_the_fixed_version(service: OpsPilot) -> None:
    scored = await call(service, "risk_score", cve_id="CVE-2024-3094", asset_ids=["db-stg-001", "db-stg-002", "db-stg-003"])

    assert scored["affected"] == ["db-stg-001", "db-stg-003"]
    public = next(s for s in scored["scores"] if s["asset_id"] == "db-stg-001")
    private = next(s for s in scored["scores"] if s["asset_id"] == "db-stg-003")
    assert public["score"] > private["score"]  # db-stg-001 faces the internet


async def test_check_controls_reports_the_assets_that_fail(service: OpsPilot) -> None:
    checked = await call(service, "check_controls", environment="production", control_ids=["CIS-5.2"])

    by_id = {r["control_id"]: r for r in checked["results"]}
    assert by_id["CIS-5.2"]["failing"] == ["web-prod-002", "web-prod-018", "api-prod-009"]
    assert "worker-prod-001" not in by_id["CIS-5.2"]["failing"]  # n/a on Windows


async def test_correlate_events_puts_the_change_closest_before_the_errors_first(service: OpsPilot) -> None:
    correlated = await call(service, "correlate_events", services=["checkout", "postgres"], first_error_at="2024-06-11T14:01:12Z")

    assert correlated["likely_cause"]["detail"].startswith("checkout v2.14.0 deployed")
    assert [e["kind"] for e in correlated["events"]][:2] == ["deploy", "config_change"]


async def test_simulate_failover_finds_the_single_region_service_and_the_slow_standby(service: OpsPilot) -> None:
    simulated = await call(service, "simulate_failover", region="us-east-1")

    outcomes = {o["service"]: o for o in simulated["outcomes"]}
    assert outcomes["redis"]["outcome"] == "outage"
    assert outcomes["checkout"]["meets_rto"] is False and outcomes["checkout"]["target_region"] == "us-west-2"
    assert outcomes["storefront"]["meets_rto"] is True
    assert "payments" not in outcomes


async def test_recommend_prices_each_saving_in_dollars(service: OpsPilot) -> None:
    advice = await call(service, "recommend", environment="production")

    kinds = {r["resource"]: (r["kind"], r["monthly_savings_usd"]) for r in advice["recommendations"]}
    assert kinds["vol-0c41d7e2a9b3f6510"] == ("delete", 204.8)
    assert kinds["web-prod-fleet-use1"] == ("rightsize", 1962.24)
    assert advice["total_savings_usd"] == round(sum(r["monthly_savings_usd"] for r in advice["recommendations"]), 2)


async def test_validate_sop_flags_a_destructive_command_without_confirmation(service: OpsPilot) -> None:
    checked = await call(service, "validate_sop", steps=[{"name": "wipe", "command": "rm -rf /var/lib/app"}, {"name": "verify"}])

    assert checked["valid"] is False and "destructive" in checked["problems"][0]


async def test_generate_sop_asks_for_confirmation_before_destructive_steps(service: OpsPilot) -> None:
    drafted = await call(service, "generate_sop", topic="rotating TLS certificates", environment="production")

    confirm = {s["name"] for s in drafted["steps"] if s["requires_confirmation"]}
    assert drafted["template"] == "tls-certificate-rotation"
    assert {"deploy-new-certs", "revoke-old-certs", "rollback"} <= confirm and "inventory-certs" not in confirm
    assert all("{environment}" not in (s.get("command") or "") for s in drafted["steps"])


async def test_generate_adapter_writes_python_that_compiles_with_read_endpoints_only(service: OpsPilot) -> None:
    found = await call(service, "discover_api", api="PagerDuty")
    generated = await call(
        service,
        "generate_adapter",
        api=found["api"],
        title=found["title"],
        base_url=found["base_url"],
        auth=found["auth"],
        endpoints=found["endpoints"],
    )

    compile(generated["code"], generated["module"], "exec")
    assert {m["name"] for m in generated["methods"]} == {"list_incidents", "list_services", "list_oncalls"}
    assert "PAGERDUTY_API_KEY" in generated["code"]


async def test_validate_fails_a_version_that_still_carries_a_known_cve(service: OpsPilot) -> None:
    checked = await call(service, "validate", image="ubuntu-base", version="2.3.9")

    assert checked["passed"] is False
    assert {c["name"]: c["passed"] for c in checked["checks"]}["cve_scan"] is False
    assert checked["scan"]["critical"] == 1
