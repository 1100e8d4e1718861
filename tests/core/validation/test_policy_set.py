"""Built-in policies always load; team folders add to them; `policies.disable` is the only way to turn one off."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.config import Config, PoliciesConfig, load_config
from core.errors import ConfigError, PolicyError
from core.intake import Ask
from core.paths import POLICIES_DIR
from core.service import OpsPilot
from core.validation import OpaEvaluator, PolicyCheck, build_evaluator
from core.validation.base import PlanContext
from core.validation.policy_set import load_policy_set

BUILT_IN = ("image_safety", "production_safety", "sop_safety", "terraform_safety")
TEAM_POLICY = """package opspilot.team.tickets

warn contains "Link the change ticket in the plan summary." if not contains(input.plan.payload.summary, "CHG-")
"""
NO_CANARY = "Production changes must start with a canary phase; the first phase is 'Everything'."


def team_folder(tmp_path: Path, name: str = "team.rego", text: str = TEAM_POLICY) -> Path:
    folder = tmp_path / "team-policies"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def denies_without_canary(messages: tuple[str, ...]) -> bool:
    return any(m.startswith(NO_CANARY) for m in messages)


def no_canary_plan(make_plan):
    assets = ["web-prod-001", "web-prod-002"]
    return make_plan(assets, phases=[{"name": "Everything", "assets": assets}])


async def test_a_team_folder_with_one_policy_still_denies_production_without_a_canary(tmp_path: Path, make_plan) -> None:
    config = PoliciesConfig(dir=team_folder(tmp_path))
    check = PolicyCheck(build_evaluator(config), config)
    results = {r.name: r for r in await check.run_all(PlanContext(plan=no_canary_plan(make_plan)))}
    assert set(results) == {*(f"policy: {p}" for p in BUILT_IN), "policy: team.tickets"}
    assert not results["policy: production_safety"].passed
    assert denies_without_canary(results["policy: production_safety"].messages)
    assert results["policy: team.tickets"].warnings == ("Link the change ticket in the plan summary.",)


async def test_startup_refuses_a_team_file_redeclaring_a_built_in_package(config: Config, tmp_path: Path) -> None:
    permissive = 'package opspilot.production_safety\n\ndeny contains "never" if false\n'
    config.policies.dirs = [team_folder(tmp_path, "lenient.rego", permissive)]
    with pytest.raises(PolicyError) as caught:
        await OpsPilot.create(config)
    message = str(caught.value)
    assert str(tmp_path / "team-policies" / "lenient.rego") in message
    assert "declares package opspilot.production_safety, which the built-in policies already declare" in message


def test_pointing_dir_at_the_built_in_folder_or_a_copy_loads_nothing_twice(tmp_path: Path) -> None:
    built_in = load_policy_set(PoliciesConfig())
    copy = tmp_path / "copy"
    shutil.copytree(POLICIES_DIR, copy)
    for config in (PoliciesConfig(dir=POLICIES_DIR), PoliciesConfig(dir=copy, dirs=[POLICIES_DIR, copy])):
        loaded = load_policy_set(config)
        assert loaded.files == built_in.files
        assert loaded.packages == BUILT_IN


def test_unknown_name_in_disable_is_refused_listing_the_known_packages() -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy_set(PoliciesConfig(disable=["production_saftey"]))
    assert str(caught.value) == (
        "policies.disable names unknown policy package(s) production_saftey; "
        "known packages: image_safety, production_safety, sop_safety, terraform_safety"
    )


def test_a_missing_extra_folder_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=f"policy directory {tmp_path / 'nope'} does not exist"):
        load_policy_set(PoliciesConfig(dirs=[tmp_path / "nope"]))


def test_dirs_and_disable_come_from_the_config_file_relative_to_it(tmp_path: Path) -> None:
    folder = team_folder(tmp_path)
    (tmp_path / "opspilot.yaml").write_text("policies:\n  dirs: [team-policies]\n  disable: [data.opspilot.sop_safety]\n")
    config = load_config(tmp_path / "opspilot.yaml", env={})
    assert config.policies.dirs == [folder] and config.policies.dir is None
    assert config.policies.disable == ["sop_safety"]
    loaded = load_policy_set(config.policies)
    assert loaded.active == ("image_safety", "production_safety", "team.tickets", "terraform_safety")


async def test_disabling_a_package_drops_its_verdict_and_says_so(make_plan) -> None:
    config = PoliciesConfig(disable=["production_safety"])
    results = await PolicyCheck(build_evaluator(config), config).run_all(PlanContext(plan=no_canary_plan(make_plan)))
    off = [r for r in results if r.disabled]
    assert [r.name for r in off] == ["policy: production_safety — disabled by policies.disable"]
    assert off[0].passed and off[0].messages[0].startswith("Policy production_safety is turned off")
    assert not any(denies_without_canary(r.messages) for r in results)
    assert [r.name for r in results if not r.disabled] == [f"policy: {p}" for p in BUILT_IN if p != "production_safety"]


async def test_opa_verdict_of_a_disabled_package_is_ignored(opa_stub, make_plan) -> None:
    plan = no_canary_plan(make_plan)
    enabled = await PolicyCheck(OpaEvaluator(opa_stub.url), PoliciesConfig()).run_all(PlanContext(plan=plan))
    assert denies_without_canary(next(r for r in enabled if r.name == "policy: production_safety").messages), "the stub denies"
    config = PoliciesConfig(opa_url=opa_stub.url, disable=["production_safety"])
    evaluator = build_evaluator(config)
    assert isinstance(evaluator, OpaEvaluator)
    results = await PolicyCheck(evaluator, config).run_all(PlanContext(plan=plan))
    assert len(opa_stub.requests) == 2
    assert all(r.passed for r in results)
    assert "policy: production_safety — disabled by policies.disable" in [r.name for r in results if r.disabled]
    assert "policy: production_safety" not in [r.name for r in results]


async def test_a_disabled_package_is_on_the_card_and_in_the_audit_log(config: Config, make_service) -> None:
    from bot.blocks import plan_card

    config.policies.disable = ["production_safety"]
    service = await make_service()
    outcome = await service.submit(Ask(text="fix drift on prod web servers", user_id="U0REQUESTER", channel_id="C0OPS"))
    plan = outcome.plan
    assert plan is not None and plan.state == "awaiting_approval"
    off = [c for c in plan.validation.checks if c.disabled]
    assert [c.name for c in off] == ["policy: production_safety — disabled by policies.disable"]
    assert plan.quality.policy_compliance == 20, "the disabled package counts neither way"
    card = json.dumps(plan_card(outcome.task, plan).blocks, ensure_ascii=False)
    assert ":no_entry_sign: policy: production_safety — disabled by policies.disable" in card
    created = next(e for e in await service.store.audit_entries([plan.id]) if e.event == "plan.created")
    assert created.details["disabled_checks"] == ["policy: production_safety — disabled by policies.disable"]
