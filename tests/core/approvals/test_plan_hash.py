"""The plan hash: the same plan and policies give the same hash; any change to what runs, or to the policies, does not."""

from __future__ import annotations

from pathlib import Path

from core.approvals.plan_hash import canonical_json, plan_hash, policy_bundle_hash
from core.config import PoliciesConfig
from core.domain import Plan
from core.domain.plan import DryRun, HealthCheck, Phase, PlanPayload


def _plan(**payload) -> Plan:
    base = {
        "summary": "fix drift",
        "affected_assets": ["web-1", "web-2"],
        "phases": [Phase(name="canary", assets=["web-1"], health_checks=[HealthCheck(type="http_200", target="/")])],
    }
    return Plan(id="p1", task_id="t1", type="drift_plan", environment="production", payload=PlanPayload(**{**base, **payload}))


def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


def test_the_hash_is_stable_and_ignores_what_does_not_run() -> None:
    bundle = "0" * 64
    first = plan_hash(_plan(), bundle)
    assert len(first) == 64 and first == plan_hash(_plan(), bundle)
    assert plan_hash(_plan(summary="reworded", risk_assessment="words"), bundle) == first


def test_any_change_to_what_runs_or_to_the_policies_changes_the_hash() -> None:
    bundle = "0" * 64
    first = plan_hash(_plan(), bundle)
    changed_check = [Phase(name="canary", assets=["web-1"], health_checks=[HealthCheck(type="http_200", target="/x")])]
    rollback = [Phase(name="canary", assets=["web-1"], rollback_if="error_rate > 1%")]
    variants = [
        _plan(affected_assets=["web-1"]),
        _plan(phases=changed_check),
        _plan(phases=rollback),
        _plan(dry_run=DryRun(diff_hash="a" * 64, hosts_changed=1, playbook="site.yml")),
    ]
    hashes = {plan_hash(p, bundle) for p in variants}
    assert first not in hashes and len(hashes) == len(variants)
    assert plan_hash(_plan(), "1" * 64) != first


def test_the_policy_bundle_hash_follows_the_rego_sources_and_the_disabled_packages(tmp_path: Path) -> None:
    builtin = policy_bundle_hash(PoliciesConfig())
    assert builtin == policy_bundle_hash(PoliciesConfig())
    team = tmp_path / "team"
    team.mkdir()
    (team / "freeze.rego").write_text('package opspilot.team.freeze\n\ndeny contains "frozen" if false\n')
    with_team = policy_bundle_hash(PoliciesConfig(dir=team))
    assert with_team != builtin
    (team / "freeze.rego").write_text('package opspilot.team.freeze\n\ndeny contains "frozen" if true\n')
    assert policy_bundle_hash(PoliciesConfig(dir=team)) != with_team
    assert policy_bundle_hash(PoliciesConfig(disable=["production_safety"])) != builtin
