"""`opspilot policy check PLAN.json` and `opspilot policy test` as functions: exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

from core.config import Config
from core.validation.commands import policy_check, policy_test

FAILING_TEST = """package opspilot.team_test

import data.opspilot.production_safety

test_staging_needs_canary_too if {
\tsome msg in production_safety.deny with input as {"environment": "staging", "plan": {"payload": {"phases": [{"name": "All", "assets": ["a"]}]}}}
}
"""


def write(tmp_path: Path, content: object, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


async def test_good_plan_passes_with_exit_0(config: Config, tmp_path: Path, make_plan, prod_web) -> None:
    code, output = await policy_check(write(tmp_path, make_plan(prod_web).to_document()), config)
    assert code == 0, output
    lines = output.splitlines()
    assert "PASS  schema" in lines and "PASS  policy: production_safety" in lines and "PASS  safety" in lines
    assert lines[-1].startswith("Result: PASS: all 6 checks passed")


async def test_plan_json_output_wrapper_is_accepted(config: Config, tmp_path: Path, make_plan, prod_web) -> None:
    spec = {
        "task_type": "drift_remediation",
        "goal": "Remediate drift",
        "context": {"environment": "production"},
        "agents": [{"name": "drift_agent"}],
        "risk_level": "high",
    }
    wrapped = {"task_spec": spec, "plan": make_plan(prod_web).to_document()}
    code, output = await policy_check(write(tmp_path, wrapped), config)
    assert code == 0, output


async def test_plan_breaking_a_policy_fails_with_exit_1_and_the_message(config: Config, tmp_path: Path, make_plan, phase) -> None:
    assets = ["web-prod-001", "web-prod-002"]
    plan = make_plan(assets, phases=[phase("Everything", assets)])
    code, output = await policy_check(write(tmp_path, plan.to_document()), config)
    assert code == 1
    assert "FAIL  policy: production_safety" in output
    assert "        - Production changes must start with a canary phase; the first phase is 'Everything'." in output
    assert output.splitlines()[-1] == "Result: FAIL: 1 of 6 checks failed."


async def test_plan_breaking_the_schema_fails_and_says_where(config: Config, tmp_path: Path, make_plan, prod_web) -> None:
    document = make_plan(prod_web).to_document()
    document["payload"]["phases"][0]["wait_time"] = "half an hour"
    code, output = await policy_check(write(tmp_path, document), config)
    assert code == 1
    assert "FAIL  schema" in output and "payload.phases[0].wait_time: 'half an hour' does not match" in output


async def test_malformed_files_fail_with_a_clear_message(config: Config, tmp_path: Path) -> None:
    assert await policy_check(tmp_path / "absent.json", config) == (1, f"{tmp_path / 'absent.json'}: no such file")
    code, output = await policy_check(write(tmp_path, '{"id": "x", '), config)
    assert code == 1 and output.startswith(f"{tmp_path / 'plan.json'} is not valid JSON: ") and "line 1" in output
    code, output = await policy_check(write(tmp_path, [1, 2]), config)
    assert code == 1 and "must hold a JSON object" in output
    code, output = await policy_check(write(tmp_path, {"task_spec": None, "plan": None}), config)
    assert code == 1 and '"plan" must be a plan object, not null' in output
    code, output = await policy_check(write(tmp_path, {"id": "x"}), config)
    assert code == 1 and "FAIL  schema" in output and "'task_id' is a required property" in output


async def test_policy_test_runs_the_shipped_rego_tests(config: Config) -> None:
    code, output = await policy_test(config)
    assert code == 0, output
    lines = output.splitlines()
    assert "PASS  data.opspilot.production_safety_test.test_first_phase_must_be_a_canary" in lines
    assert "PASS  data.opspilot.sop_safety_test.test_destructive_step_without_confirmation_is_denied" in lines
    assert lines[-1].startswith(f"{len(lines) - 1} passed, 0 failed")


async def test_policy_test_fails_on_a_failing_rego_test(config: Config, policy_copy: Path) -> None:
    (policy_copy / "tests" / "team_test.rego").write_text(FAILING_TEST)
    config.policies.dir = policy_copy
    code, output = await policy_test(config)
    assert code == 1
    assert "FAIL  data.opspilot.team_test.test_staging_needs_canary_too" in output.splitlines()
    assert output.splitlines()[-1].startswith(f"{len(output.splitlines()) - 2} passed, 1 failed")


async def test_policy_test_names_file_and_line_of_a_syntax_error(config: Config, policy_copy: Path) -> None:
    broken = policy_copy / "tests" / "typo_test.rego"
    broken.write_text("package opspilot.typo_test\n\ntest_x if {\n\tinput.a ==\n}\n")
    config.policies.dir = policy_copy
    code, output = await policy_test(config)
    assert code == 1
    assert output.startswith(f"Cannot load the policies: policy file {broken} line 5, column 1: expecting expression")


async def test_policy_test_runs_the_built_in_tests_next_to_a_team_folder_without_tests(config: Config, tmp_path: Path) -> None:
    (tmp_path / "only.rego").write_text('package opspilot.only\n\ndeny contains "no" if false\n')
    config.policies.dir = tmp_path
    code, output = await policy_test(config)
    assert code == 0, output
    assert "PASS  data.opspilot.production_safety_test.test_first_phase_must_be_a_canary" in output.splitlines()
    assert output.splitlines()[-1].endswith(f"(built-in policies + {tmp_path})")


async def test_policy_test_skips_the_tests_of_a_disabled_package(config: Config) -> None:
    config.policies.disable = ["production_safety"]
    code, output = await policy_test(config)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "SKIP  data.opspilot.production_safety tests: disabled by policies.disable"
    assert not any(line.startswith("PASS  data.opspilot.production_safety_test.") for line in lines)
    assert "PASS  data.opspilot.sop_safety_test.test_destructive_step_without_confirmation_is_denied" in lines


async def test_policy_check_shows_a_disabled_package_as_off(config: Config, tmp_path: Path, make_plan, phase) -> None:
    assets = ["web-prod-001", "web-prod-002"]
    config.policies.disable = ["production_safety"]
    code, output = await policy_check(
        write(tmp_path, make_plan(assets, phases=[phase("Everything", assets)]).to_document()), config
    )
    assert code == 0, output
    assert "OFF   policy: production_safety — disabled by policies.disable" in output.splitlines()
    assert "FAIL  policy: production_safety" not in output
