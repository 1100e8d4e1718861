"""The policy evaluator port: both implementations pick up a team's own packages, fail closed, and a
policy file that does not parse stops the bot at startup naming the file and line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from core.config import Config, PoliciesConfig
from core.errors import PolicyError
from core.service import OpsPilot
from core.validation import OpaEvaluator, PlanContext, PolicyCheck, RegorusEvaluator, build_evaluator

FREEZE = """package opspilot.team.freeze

deny contains "Change freeze until the release is out: no production changes." if input.environment == "production"
"""

# Two complete rules give the limit different values for a production plan with phases: an eval conflict.
BROKEN_AT_EVALUATION = """package opspilot.team.broken

limit := 5 if input.environment == "production"

limit := 10 if count(input.plan.payload.phases) > 0

deny contains msg if {
\tinput.total_assets > limit
\tmsg := "too many assets"
}
"""

SYNTAX_ERROR = """package opspilot.team.typo

deny contains msg if {
\tinput.environment ==
}
"""


async def test_a_teams_own_package_is_evaluated_next_to_the_shipped_ones(
    make_evaluator, make_plan, policy_copy: Path, prod_web
) -> None:
    (policy_copy / "team").mkdir()
    (policy_copy / "team" / "freeze.rego").write_text(FREEZE)
    check = PolicyCheck(await make_evaluator(policy_copy), PoliciesConfig(dir=policy_copy))
    results = {r.name: r for r in await check.run_all(PlanContext(plan=make_plan(prod_web)))}
    assert "policy: production_safety" in results
    assert results["policy: team.freeze"].messages == ("Change freeze until the release is out: no production changes.",)
    assert not results["policy: team.freeze"].passed


async def test_a_policy_that_errors_at_evaluation_denies_and_says_so(
    make_evaluator, make_plan, policy_copy: Path, prod_web
) -> None:
    (policy_copy / "broken.rego").write_text(BROKEN_AT_EVALUATION)
    check = PolicyCheck(await make_evaluator(policy_copy), PoliciesConfig(dir=policy_copy))
    results = await check.run_all(PlanContext(plan=make_plan(prod_web)))
    failed = [r for r in results if not r.passed]
    assert failed, "an erroring policy must never pass"
    message = " ".join(failed[0].messages)
    assert "rule conflicts with rule" in message
    assert "denie" in message  # "denies the plan" / "the plan is denied"


async def test_opa_evaluation_goes_over_the_data_api(opa_stub, make_plan, prod_web) -> None:
    check = PolicyCheck(OpaEvaluator(opa_stub.url), PoliciesConfig())
    results = await check.run_all(PlanContext(plan=make_plan(prod_web), requester="U0REQ"))
    assert all(r.passed for r in results)
    [request] = opa_stub.requests
    assert request["path"] == "opspilot"
    document = request["body"]["input"]
    assert document["environment"] == "production" and document["total_assets"] == len(prod_web)
    assert document["requester"] == "U0REQ" and document["plan"]["type"] == "drift_plan"
    assert {"time", "weekday", "hour_utc", "config"} <= set(document)


async def test_unreachable_opa_denies_naming_the_server(make_plan, prod_web) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check = PolicyCheck(OpaEvaluator(f"http://127.0.0.1:{port}", timeout_seconds=2), PoliciesConfig())
    [result] = await check.run_all(PlanContext(plan=make_plan(prod_web)))
    assert not result.passed and result.name == "policy"
    assert f"OPA at http://127.0.0.1:{port} did not answer" in result.messages[0]
    assert "denied until they can be" in result.messages[0]


async def test_opa_without_our_policies_denies(start_opa_stub, tmp_path: Path, make_plan, prod_web) -> None:
    (tmp_path / "other.rego").write_text("package other\n\nallow := true\n")
    stub = await start_opa_stub(tmp_path)
    [result] = await PolicyCheck(OpaEvaluator(stub.url), PoliciesConfig()).run_all(PlanContext(plan=make_plan(prod_web)))
    assert not result.passed
    assert "has no policies under data.opspilot" in result.messages[0]


async def test_startup_refuses_a_policy_with_a_syntax_error_naming_file_and_line(config: Config, policy_copy: Path) -> None:
    broken = policy_copy / "team_typo.rego"
    broken.write_text(SYNTAX_ERROR)
    config.policies.dir = policy_copy
    with pytest.raises(PolicyError) as caught:
        await OpsPilot.create(config)
    assert f"{broken} line 5, column 1" in str(caught.value)
    assert "expecting expression" in str(caught.value)


async def test_startup_refuses_a_policy_directory_without_policies(config: Config, tmp_path: Path) -> None:
    config.policies.dir = tmp_path
    with pytest.raises(PolicyError, match="no policies under package opspilot"):
        await OpsPilot.create(config)
    config.policies.dir = tmp_path / "missing"
    with pytest.raises(PolicyError, match="does not exist"):
        await OpsPilot.create(config)


def test_opa_url_selects_the_remote_evaluator() -> None:
    assert isinstance(build_evaluator(PoliciesConfig(opa_url="http://opa.internal:8181")), OpaEvaluator)
    assert isinstance(build_evaluator(PoliciesConfig()), RegorusEvaluator)
