"""The plan state machine around validation (seed 000), and re-validation right before a run starts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from core.domain import Plan
from core.intake import Ask
from core.paths import SAMPLE_DATA_DIR
from core.timeutil import utcnow
from core.validation.windows import WEEKDAYS

REQUESTER, APPROVER = "U0REQUESTER", "U0APPROVER1"
PROD_WEB = "fix drift on prod web servers"

FREEZE = """package opspilot.team.freeze

deny contains "Change freeze until the release is out: no production changes." if input.environment == "production"
"""


async def ask(service, text: str = PROD_WEB) -> Plan:
    outcome = await service.submit(Ask(text=text, user_id=REQUESTER, channel_id="C0OPS"))
    assert outcome.plan is not None, outcome.message
    return outcome.plan


async def plan_moves(service, plan_id: str) -> list[tuple[str | None, str | None]]:
    return [(e.from_state, e.to_state) for e in await service.store.audit_entries([plan_id]) if e.to_state]


async def run_failure(service, run_id: str) -> tuple[str, list[str]]:
    run = await service.store.get_run(run_id)
    failed = next(e for e in await service.store.audit_entries([run_id]) if e.event == "run.failed")
    return run.state, failed.details["errors"]


async def test_valid_plan_goes_draft_validated_awaiting_approval(service) -> None:
    plan = await ask(service)
    assert await plan_moves(service, plan.id) == [
        (None, "draft"),
        ("draft", "validated"),
        ("validated", "awaiting_approval"),
    ]
    assert [c.name for c in plan.validation.checks] == [
        "schema",
        "policy: image_safety",
        "policy: production_safety",
        "policy: sop_safety",
        "policy: terraform_safety",
        "safety",
        "quality",
    ]


async def test_plan_a_policy_denies_stays_draft_with_the_reasons(config, make_service, policy_copy: Path) -> None:
    (policy_copy / "freeze.rego").write_text(FREEZE)
    config.policies.dir = policy_copy
    service = await make_service()
    outcome = await service.submit(Ask(text=PROD_WEB, user_id=REQUESTER, channel_id="C0OPS"))
    plan = outcome.plan
    assert plan.state == "draft" and not outcome.needs_decision
    assert plan.status.reason == "failed validation: Change freeze until the release is out: no production changes."
    freeze = next(c for c in plan.validation.checks if c.name == "policy: team.freeze")
    assert not freeze.passed and not plan.validation.opa_valid
    assert plan.quality.policy_compliance == 16, "4 of 5 policy packages allowed it"
    assert await plan_moves(service, plan.id) == [(None, "draft")]
    decision = await service.decide(plan.id, APPROVER, "approved")
    assert decision.status == "already_decided" and decision.run is None


async def test_replanning_supersedes_the_open_plan_of_the_task(service) -> None:
    from core.events import PlanSuperseded

    superseded: list[PlanSuperseded] = []

    async def record(event: PlanSuperseded) -> None:
        superseded.append(event)

    service.bus.subscribe(record, PlanSuperseded)
    first = await ask(service)
    outcome = await service.replan(first.task_id, REQUESTER)
    second = outcome.plan
    assert second.id != first.id and second.state == "awaiting_approval"
    old = await service.get_plan(first.id)
    assert old.state == "superseded" and old.status.reason == f"superseded by plan {second.id}"
    assert [(e.plan_id, e.superseded_by) for e in superseded] == [(first.id, second.id)], "the old card is rewritten"
    assert (await service.get_task(first.task_id)).status.state == "planned"
    late = await service.decide(first.id, APPROVER, "approved")
    assert late.status == "superseded" and "superseded" in late.message


async def test_replanning_leaves_decided_plans_alone(service) -> None:
    first = await ask(service)
    await service.decide(first.id, APPROVER, "rejected", "not today")
    await service.replan(first.task_id, REQUESTER)
    assert (await service.get_plan(first.id)).state == "rejected"
    assert len(await service.store.plans_for_task(first.task_id)) == 2


async def test_run_outside_the_change_window_fails_at_start_with_the_reason(config, make_service) -> None:
    elsewhen = WEEKDAYS[(utcnow().weekday() + 3) % 7][:3].lower()
    config.policies.change_windows = [f"{elsewhen} 00:00-23:59"]
    service = await make_service()
    plan = await ask(service)
    assert plan.state == "awaiting_approval", "outside the window only warns while planning"
    assert any("outside every change window" in w for w in plan.validation.warnings)
    decision = await service.decide(plan.id, APPROVER, "approved")
    await service.executor.wait_idle(30)
    state, errors = await run_failure(service, decision.run.id)
    assert state == "failed"
    assert any(
        e.startswith(f"Production runs may only start inside a change window ({elsewhen} 00:00-23:59 UTC)") for e in errors
    )


async def test_asset_removed_from_inventory_after_approval_fails_the_run_with_the_reason(
    config, make_service, tmp_path: Path
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    shutil.copy(SAMPLE_DATA_DIR / "fleet.yaml", fleet_file)
    config.inventory.path = fleet_file
    service = await make_service()
    plan = await ask(service)
    assert "web-prod-001" in plan.payload.affected_assets
    fleet = yaml.safe_load(fleet_file.read_text())
    fleet["assets"] = [a for a in fleet["assets"] if a["id"] != "web-prod-001"]
    fleet_file.write_text(yaml.safe_dump(fleet))
    os.utime(fleet_file, ns=(fleet_file.stat().st_mtime_ns + 10**9,) * 2)
    decision = await service.decide(plan.id, APPROVER, "approved")
    await service.executor.wait_idle(30)
    state, errors = await run_failure(service, decision.run.id)
    assert state == "failed"
    assert "web-prod-001 is not in the inventory; remove it from the plan or add it to the fleet file." in errors
    assert not await service.store.asset_versions(), "nothing was changed"


async def test_policy_added_after_approval_stops_the_run(service, policy_copy: Path) -> None:
    from core.validation import build_validator

    plan = await ask(service)
    (policy_copy / "freeze.rego").write_text(FREEZE)
    service.config.policies.dir = policy_copy
    service.validator = build_validator(service.config, service.store)  # what a restart with the new policy does
    decision = await service.decide(plan.id, APPROVER, "approved")
    await service.executor.wait_idle(30)
    state, errors = await run_failure(service, decision.run.id)
    assert state == "failed"
    assert "Change freeze until the release is out: no production changes." in errors
