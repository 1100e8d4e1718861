"""OAuth mode: each workspace owns its tasks, plans and runs, and has its own approval rules and freezes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from core.config import Config, WorkspaceConfig, load_config
from core.domain import Plan
from core.errors import ConfigError, NotFound
from core.intake import Ask
from core.service import OpsPilot

TEAM_A, TEAM_B, TEAM_C = "T0AAAAAAA", "T0BBBBBBB", "T0CCCCCCC"
ALICE, ANNA = "U0ALICE", "U0ANNA"  # workspace A: requester and approver
BOB, BEN = "U0BOB", "U0BEN"  # workspace B
ROOT = "U0ROOT"  # an approver of the top-level rules (the default org)
PROD = "fix drift on prod web servers"
DEV = "fix drift on dev web servers"


def multi_workspace(config: Config) -> Config:
    config.slack.client_id = "1111.2222"
    config.slack.client_secret = SecretStr("client-secret")
    config.slack.state_secret = SecretStr("state-secret")
    config.slack.token_key = SecretStr("k" * 43 + "=")
    config.approvers = [ROOT]
    config.workspaces = {
        TEAM_A: WorkspaceConfig.model_validate({"approvers": [ANNA], "admins": {"users": [ANNA]}}),
        TEAM_B: WorkspaceConfig.model_validate({"approvers": [BEN], "admins": {"users": [BEN]}}),
    }
    return config


@pytest.fixture
async def ops(config: Config) -> AsyncIterator[OpsPilot]:
    service = await OpsPilot.create(multi_workspace(config))
    try:
        yield service
    finally:
        await service.close()


async def ask(service: OpsPilot, team: str | None, user: str, text: str = PROD) -> Plan:
    origin = {"team": team} if team else {}
    outcome = await service.submit(Ask.from_front(text, user, "C0OPS", front="slack", channel="C0OPS", **origin))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval", outcome.message
    return outcome.plan


async def drive(service: OpsPilot) -> None:
    await service.executor.tick()
    await asyncio.gather(*service.executor.worker.holding.values(), return_exceptions=True)


async def test_a_task_belongs_to_the_workspace_it_was_asked_in(ops: OpsPilot) -> None:
    plan = await ask(ops, TEAM_A, ALICE)
    assert (await ops.get_task(plan.task_id)).org_id == TEAM_A
    cli = await ask(ops, None, ROOT)
    assert (await ops.get_task(cli.task_id)).org_id == "default", "an ask without a workspace stays in the default org"


async def test_another_workspace_neither_sees_nor_acts_on_a_plan(ops: OpsPilot) -> None:
    plan = await ask(ops, TEAM_A, ALICE)
    with pytest.raises(NotFound):
        await ops.get_plan(plan.id, org=TEAM_B)
    with pytest.raises(NotFound):
        await ops.get_task(plan.task_id, org=TEAM_B)
    refused = await ops.decide(plan.id, BEN, "approved", org=TEAM_B)
    assert refused.status == "not_found" and refused.plan is None, "not even its existence shows"
    assert (await ops.may_decide(plan.id, BEN, org=TEAM_B)).status == "not_found"
    assert (await ops.get_plan(plan.id)).state == "awaiting_approval", "nothing changed"
    assert await ops.queries.audit_of(plan.id, org=TEAM_B) is None
    assert await ops.queries.waiting_for(ANNA, org=TEAM_B) == []
    assert [t.id for t in await ops.queries.recent_tasks(org=TEAM_B)] == []
    assert [t.id for t in await ops.queries.recent_tasks(org=TEAM_A)] == [plan.task_id]
    with pytest.raises(NotFound):
        await ops.replan(plan.task_id, BEN, org=TEAM_B)
    with pytest.raises(NotFound):
        await ops.queries.task_history(plan.task_id, org=TEAM_B)


async def test_each_workspace_approves_by_its_own_rules(ops: OpsPilot) -> None:
    a_plan, b_plan = await ask(ops, TEAM_A, ALICE), await ask(ops, TEAM_B, BOB, DEV)
    # B's approver, even acting from A's workspace, is no approver of A's plans; nor is the top-level approver.
    assert (await ops.decide(a_plan.id, BEN, "approved", org=TEAM_A)).status == "not_approver"
    assert (await ops.decide(a_plan.id, ROOT, "approved")).status == "not_approver"
    assert [w.plan.id for w in await ops.queries.waiting_for(ANNA, org=TEAM_A)] == [a_plan.id]
    assert (await ops.decide(a_plan.id, ANNA, "approved", org=TEAM_A)).status == "approved"
    assert (await ops.decide(b_plan.id, BEN, "approved", org=TEAM_B)).status == "approved"


async def test_a_workspace_without_rules_fails_closed_and_says_why(ops: OpsPilot) -> None:
    plan = await ask(ops, TEAM_C, "U0CARL")
    for actor in (ANNA, ROOT, "U0CARL"):
        refused = await ops.decide(plan.id, actor, "approved", org=TEAM_C)
        assert refused.status == "not_approver" and "no approval rules yet" in refused.message
    assert (await ops.ballot(plan)).who is None


async def test_runs_and_their_controls_stay_in_their_workspace(ops: OpsPilot) -> None:
    plan = await ask(ops, TEAM_A, ALICE)
    outcome = await ops.decide(plan.id, ANNA, "approved", org=TEAM_A)
    assert outcome.run is not None
    run_id = outcome.run.id
    await drive(ops)  # begins and runs the first phase
    assert (await ops.control_run(run_id, BEN, "pause", org=TEAM_B)).status == "not_found"
    with pytest.raises(NotFound):
        await ops.run_status(run_id, org=TEAM_B)
    with pytest.raises(NotFound):
        await ops.queries.run_with_audit(run_id, org=TEAM_B)
    assert await ops.queries.recent_runs(None, org=TEAM_B) == []
    assert [r.run_id for r in await ops.queries.recent_runs("C0OPS", org=TEAM_A)] == [run_id]
    assert (await ops.run_status(run_id, org=TEAM_A)).run.id == run_id
    assert (await ops.control_run(run_id, ANNA, "pause", org=TEAM_A)).status == "paused"


async def test_a_freeze_is_the_workspaces_own(ops: OpsPilot) -> None:
    a_plan, b_plan = await ask(ops, TEAM_A, ALICE), await ask(ops, TEAM_B, BOB)
    assert (await ops.freeze("production", BEN, "incident 42", org=TEAM_A)).status == "not_allowed"
    assert (await ops.freeze("production", ANNA, "quarter-end close", org=TEAM_A)).status == "frozen"
    frozen = await ops.frozen("production", org=TEAM_A)
    assert frozen is not None and frozen.environment == "production" and frozen.reason == "quarter-end close"
    assert await ops.frozen("production", org=TEAM_B) is None
    assert await ops.frozen("production") is None, "the default org's production is not frozen either"
    assert (await ops.decide(a_plan.id, ANNA, "approved", org=TEAM_A)).status == "frozen"
    assert (await ops.decide(b_plan.id, BEN, "approved", org=TEAM_B)).status == "approved"
    assert await ops.open_plan_ids("production", workspace=TEAM_A) == [a_plan.id]
    assert (await ops.unfreeze("production", BEN, org=TEAM_B)).status == "not_frozen"
    assert (await ops.unfreeze("production", ANNA, org=TEAM_A)).status == "unfrozen"


async def test_one_workspace_token_mode_ignores_workspaces(config: Config) -> None:
    """Without OAuth every ask is the one org's and every viewer sees everything (the default)."""
    config.approvers = [ROOT]
    service = await OpsPilot.create(config)
    try:
        plan = await ask(service, TEAM_A, ALICE)
        assert (await service.get_task(plan.task_id)).org_id == "default"
        assert service.workspaces.viewer(TEAM_B) is None
        assert (await service.decide(plan.id, ROOT, "approved", org=service.workspaces.viewer(TEAM_B))).status == "approved"
    finally:
        await service.close()


def test_workspaces_must_be_keyed_by_team_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "opspilot.yaml"
    path.write_text("workspaces:\n  prod-team:\n    approvers: [U0ANNA]\n")
    with pytest.raises(ConfigError, match="is not a Slack team ID"):
        load_config(path, env={})
    path.write_text("workspaces:\n  T0AAAAAAA:\n    approverz: [U0ANNA]\n")
    with pytest.raises(ConfigError, match="approverz"):
        load_config(path, env={})


BEE_FLEET = """golden_images:
  ubuntu-base: "2.4.1"
assets:
  - {id: bee-web-1, environment: production, role: web-server, platform: aws, region: eu-west-1, image: ubuntu-base, image_version: "2.3.0"}
  - {id: bee-web-2, environment: production, role: web-server, platform: aws, region: eu-west-1, image: ubuntu-base, image_version: "2.3.0"}
  - {id: bee-web-3, environment: production, role: web-server, platform: aws, region: eu-west-1, image: ubuntu-base, image_version: "2.4.1"}
"""


async def test_a_workspace_with_its_own_inventory_plans_and_runs_against_its_fleet(config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bee.yaml").write_text(BEE_FLEET)
    multi_workspace(config)
    config.workspaces[TEAM_B] = WorkspaceConfig.model_validate(
        {"approvers": [BEN], "inventory": {"path": str(tmp_path / "bee.yaml")}}
    )
    service = await OpsPilot.create(config)
    try:
        theirs = await ask(service, TEAM_B, BOB)
        assert set(theirs.payload.affected_assets) == {"bee-web-1", "bee-web-2"}
        ours = await ask(service, TEAM_A, ALICE)
        assert ours.payload.affected_assets and not any(a.startswith("bee-") for a in ours.payload.affected_assets)
        outcome = await service.decide(theirs.id, BEN, "approved", org=TEAM_B)
        assert outcome.run is not None
        for _ in range(20):
            run = await service.store.get_run(outcome.run.id)
            if run.state in ("completed", "failed", "rolled_back"):
                break
            await drive(service)
        assert run.state == "completed", run.status.reason
        assert run.metrics.assets_changed == 2
    finally:
        await service.close()


async def test_an_asset_id_in_two_workspaces_fleets_stops_startup(config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "twin.yaml").write_text(BEE_FLEET.replace("bee-web-1", "web-prod-001"))
    multi_workspace(config)
    config.workspaces[TEAM_B] = WorkspaceConfig.model_validate({"inventory": {"path": str(tmp_path / "twin.yaml")}})
    with pytest.raises(ConfigError, match="web-prod-001"):
        await OpsPilot.create(config)


def test_a_workspaces_inventory_path_is_relative_to_the_config_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bee.yaml").write_text(BEE_FLEET)
    path = tmp_path / "opspilot.yaml"
    path.write_text(f"workspaces:\n  {TEAM_B}:\n    inventory:\n      path: bee.yaml\n")
    loaded = load_config(path, env={})
    inventory = loaded.workspaces[TEAM_B].inventory
    assert inventory is not None and inventory.path == tmp_path / "bee.yaml"
