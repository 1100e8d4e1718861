"""Change freeze, run controls by rule, and who may ask: the service's answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.approvals.rules import ApprovalsConfig, People, RequesterRule
from core.config import Config
from core.domain import Plan
from core.intake import Ask
from core.service import OpsPilot

REQUESTER, APPROVER_1, APPROVER_2, OPERATOR, ADMIN, OUTSIDER = (
    "U0REQUESTER",
    "U0APPROVER1",
    "U0APPROVER2",
    "U0OPERATOR",
    "U0ADMIN",
    "U0OUTSIDER",
)
PROD = "fix drift on prod web servers"
DEV = "fix drift on dev web servers"


@pytest.fixture
async def ops(config: Config) -> AsyncIterator[OpsPilot]:
    """Runs are driven by hand (``drive``): the executor's worker is not started."""
    config.approvers = []
    config.approvals = ApprovalsConfig.model_validate(
        {
            "rules": [
                {
                    "match": {"environment": "production"},
                    "approvers": {"users": [APPROVER_1, APPROVER_2]},
                    "required": 1,
                    "run_control": {"users": [OPERATOR]},
                },
                {"match": {}, "approvers": {"users": [APPROVER_1]}, "allow_self_approval": True},
            ]
        }
    )
    config.admins = People(users=(ADMIN,))
    service = await OpsPilot.create(config)
    try:
        yield service
    finally:
        await service.close()


async def ask(service: OpsPilot, text: str = PROD) -> Plan:
    outcome = await service.submit(Ask(text=text, user_id=REQUESTER, channel_id="C0OPS"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval", outcome.message
    return outcome.plan


async def drive(service: OpsPilot) -> list[str]:
    """One claiming round of the run worker, waiting for what it claimed."""
    claimed = await service.executor.tick()
    await asyncio.gather(*service.executor.worker.holding.values(), return_exceptions=True)
    return claimed


async def test_a_freeze_refuses_votes_with_the_reason_and_unfreeze_lets_them_through(ops: OpsPilot) -> None:
    plan = await ask(ops)
    frozen = await ops.freeze("production", APPROVER_2, "quarter-end close")
    assert frozen.status == "frozen"
    for decision in ("approved", "rejected"):
        refused = await ops.decide(plan.id, APPROVER_1, decision)  # type: ignore[arg-type]
        assert refused.status == "frozen" and "quarter-end close" in refused.message
    assert (await ops.decide((await ask(ops, DEV)).id, APPROVER_1, "approved")).status == "approved", "dev is not frozen"
    trail = [(e.event, e.actor) for e in await ops.store.audit_entries(["production"])]
    assert ("environment.frozen", APPROVER_2) in trail
    assert (await ops.unfreeze("production", ADMIN)).status == "unfrozen"
    assert (await ops.unfreeze("production", ADMIN)).status == "not_frozen"
    assert (await ops.decide(plan.id, APPROVER_1, "approved")).status == "approved"


async def test_only_the_environments_approvers_and_admins_may_freeze(ops: OpsPilot) -> None:
    refused = await ops.freeze("production", OUTSIDER, "because")
    assert refused.status == "not_allowed"
    assert await ops.frozen("production") is None
    assert (await ops.freeze("production", ADMIN, "incident 42")).status == "frozen"
    assert (await ops.unfreeze("production", REQUESTER)).status == "not_allowed"
    assert (await ops.frozen("production")) is not None
    events = [e.event for e in await ops.store.audit_entries(["production"])]
    assert events.count("environment.freeze_refused") == 1 and events.count("environment.unfreeze_refused") == 1


async def test_a_running_run_pauses_at_the_next_phase_boundary_and_resumes_after_unfreeze(ops: OpsPilot) -> None:
    plan = await ask(ops)
    assert len(plan.payload.phases) >= 2, "the test needs a plan with several phases"
    outcome = await ops.decide(plan.id, APPROVER_1, "approved")
    assert outcome.run is not None
    run_id = outcome.run.id
    assert await drive(ops) == [run_id]  # begins and runs the first phase
    assert (await ops.store.get_run(run_id)).progress.phases_completed == 1

    await ops.freeze("production", APPROVER_2, "incident 42")
    await drive(ops)
    paused = await ops.store.get_run(run_id)
    assert paused.state == "paused" and "incident 42" in (paused.status.reason or "")
    assert paused.progress.phases_completed == 1

    still = await ops.control_run(run_id, APPROVER_1, "resume")
    assert still.status == "invalid" and "frozen" in still.message
    await ops.unfreeze("production", APPROVER_2)
    assert (await ops.control_run(run_id, APPROVER_1, "resume")).status == "resumed"
    for _ in range(20):
        if (await ops.store.get_run(run_id)).state == "completed":
            break
        await drive(ops)
    assert (await ops.store.get_run(run_id)).state == "completed"


async def test_a_frozen_environment_starts_no_new_run(ops: OpsPilot) -> None:
    plan = await ask(ops)
    outcome = await ops.decide(plan.id, APPROVER_1, "approved")
    assert outcome.run is not None
    await ops.freeze("production", APPROVER_2, "incident 42")
    await drive(ops)
    failed = await ops.store.get_run(outcome.run.id)
    assert failed.state == "failed" and "frozen" in (failed.status.reason or "")


async def test_run_controls_follow_the_rule_approvers_run_control_and_admins(ops: OpsPilot) -> None:
    plan = await ask(ops)
    outcome = await ops.decide(plan.id, APPROVER_1, "approved")
    assert outcome.run is not None
    run_id = outcome.run.id
    await drive(ops)
    refused = await ops.control_run(run_id, OUTSIDER, "pause")
    assert refused.status == "not_allowed" and "run_control" in refused.message
    audited = [e for e in await ops.store.audit_entries([run_id]) if e.event == "run.control_refused"]
    assert [(e.actor, e.details["code"]) for e in audited] == [(OUTSIDER, "not_allowed")]
    assert (await ops.control_run(run_id, OPERATOR, "pause")).status == "paused"
    assert (await ops.control_run(run_id, APPROVER_2, "resume")).status == "resumed"
    assert (await ops.control_run(run_id, ADMIN, "pause")).status == "paused"


async def test_an_ask_outside_the_requesters_rules_gets_a_clear_answer_and_stores_nothing(config: Config) -> None:
    config.requesters = [RequesterRule.model_validate({"match": {"environment": "production"}, "users": [REQUESTER]})]
    service = await OpsPilot.create(config)
    try:
        refused = await service.submit(Ask(text=PROD, user_id=OUTSIDER, channel_id="C0OPS"))
        assert refused.kind == "invalid" and refused.task is None and "production" in refused.message
        assert await service.store.recent_tasks() == []
        allowed = await service.submit(Ask(text=DEV, user_id=OUTSIDER, channel_id="C0OPS"))
        assert allowed.task is not None, "no requesters rule covers development"
        assert (await service.submit(Ask(text=PROD, user_id=REQUESTER, channel_id="C0OPS"))).task is not None
    finally:
        await service.close()


async def test_a_production_freeze_also_holds_plans_for_all_environments(ops: OpsPilot) -> None:
    from core.store.freezes import Freezes
    from core.timeutil import utcnow

    freezes = Freezes(ops.store.database)
    assert await freezes.get("all") is None
    async with ops.store.database.engine.begin() as conn:
        await freezes.set(conn, "staging", "load test", "U0ADMIN", utcnow())
        await freezes.set(conn, "production", "release week", "U0ADMIN", utcnow())
    held = await freezes.get("all")
    assert held is not None and held.environment == "production" and held.reason == "release week"
    assert (await freezes.get(None)).environment == "production"
