"""What every store backend must do: round-trip documents, guard state machines, keep the audit trail."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.domain import Plan, PlanPayload, Run, Task, TaskSpec, Usage
from core.domain.run import PhaseResult, RunProgress
from core.errors import IllegalTransition, NotFound
from core.schemas import errors_for
from core.store import Database

SPEC = TaskSpec.model_validate(
    {
        "task_type": "drift_remediation",
        "goal": "Remediate drift",
        "context": {"environment": "production"},
        "agents": [{"name": "drift_agent", "priority": 1}],
        "tools_required": ["query_assets"],
        "risk_level": "high",
        "hitl_required": True,
    }
)


def _task() -> Task:
    return Task(
        id=str(uuid.uuid4()), org_id="org", created_by="U1", user_intent="fix drift", task_spec=SPEC, origin={"channel": "C1"}
    )


def _plan(task_id: str) -> Plan:
    return Plan(
        id=str(uuid.uuid4()),
        task_id=task_id,
        type="drift_plan",
        agent="drift_agent",
        environment="production",
        payload=PlanPayload(
            summary="fix", affected_assets=["a1"], phases=[{"name": "Canary", "assets": ["a1"], "wait_time": "5m"}]
        ),
    )


async def test_task_round_trips_and_its_document_validates(store) -> None:
    task = _task()
    task.usage = Usage(provider="anthropic", model="m", input_tokens=10, output_tokens=5, cost_usd=0.01)
    await store.add_task(task, "U1")
    loaded = await store.get_task(task.id)
    assert loaded.task_spec == SPEC and loaded.origin == {"channel": "C1"} and loaded.usage.input_tokens == 10
    assert errors_for("task", loaded.to_document()) == []


async def test_plan_and_run_round_trip_and_validate(store) -> None:
    task = _task()
    await store.add_task(task, "U1")
    plan = _plan(task.id)
    await store.add_plan(plan, "opspilot")
    assert errors_for("plan", (await store.get_plan(plan.id)).to_document()) == []
    run = Run(
        id=str(uuid.uuid4()),
        plan_id=plan.id,
        environment="production",
        progress=RunProgress(total_phases=1),
        phases=[PhaseResult(name="Canary")],
    )
    await store.add_run(run, "U2")
    loaded = await store.get_run(run.id, with_audit=True)
    assert loaded.progress.total_phases == 1 and loaded.audit_log[0]["event"] == "run.created"
    assert errors_for("run", loaded.to_document()) == []


async def test_illegal_transition_raises_and_changes_nothing(store) -> None:
    task = _task()
    await store.add_task(task, "U1")
    with pytest.raises(IllegalTransition):
        await store.transition("task", task.id, "planned", actor="U1")
    assert (await store.get_task(task.id)).status.state == "created"
    assert [e.event for e in await store.audit_entries([task.id])] == ["task.created"]


async def test_missing_entity_is_not_found(store) -> None:
    with pytest.raises(NotFound):
        await store.transition("plan", str(uuid.uuid4()), "validated", actor="x")
    with pytest.raises(NotFound):
        await store.get_run(str(uuid.uuid4()))


async def test_concurrent_decisions_let_exactly_one_win(store) -> None:
    task = _task()
    await store.add_task(task, "U1")
    plan = _plan(task.id)
    await store.add_plan(plan, "opspilot")
    await store.transition("plan", plan.id, "validated", actor="opspilot")
    await store.transition("plan", plan.id, "awaiting_approval", actor="opspilot")

    async def decide(target: str, actor: str) -> str:
        try:
            await store.transition("plan", plan.id, target, actor=actor, expect=("awaiting_approval",))
            return "won"
        except IllegalTransition:
            return "lost"

    results = await asyncio.gather(*(decide("approved" if i % 2 else "rejected", f"U{i}") for i in range(6)))
    assert sorted(results) == ["lost"] * 5 + ["won"]
    decisions = [e for e in await store.audit_entries([plan.id]) if e.to_state in ("approved", "rejected")]
    assert len(decisions) == 1


async def test_audit_trail_covers_task_plans_and_runs_in_order(store) -> None:
    task = _task()
    await store.add_task(task, "U1")
    await store.transition("task", task.id, "parsing", actor="U1")
    plan = _plan(task.id)
    await store.add_plan(plan, "opspilot")
    await store.transition("task", task.id, "planned", actor="opspilot", details={"plan_id": plan.id})
    events = [e.event for e in await store.audit_trail(task.id)]
    assert events == ["task.created", "task.parsing", "plan.created", "task.planned"]


async def test_asset_versions_are_upserted(store) -> None:
    await store.record_asset_version("web-1", "ubuntu-base", "2.4.1", None)
    await store.record_asset_version("web-1", "ubuntu-base", "2.3.9", "run-1")
    assert await store.asset_versions() == {"web-1": ("ubuntu-base", "2.3.9")}


async def test_llm_usage_sums_per_org_since(store) -> None:
    from datetime import timedelta

    from core.timeutil import utcnow

    await store.record_llm_usage("org-a", 100, 0.01)
    await store.record_llm_usage("org-a", 50, 0.01)
    await store.record_llm_usage("org-b", 999, 0.1)
    assert await store.llm_tokens_since("org-a", utcnow() - timedelta(minutes=1)) == 150


async def test_migrations_are_idempotent(store) -> None:
    await store.database.upgrade()
    await store.database.upgrade()


def test_database_url_forms_are_normalized_and_bad_ones_explained() -> None:
    from core.errors import ConfigError
    from core.store.database import normalize_url

    assert normalize_url("postgres://u@h/db").startswith("postgresql+asyncpg://")
    assert normalize_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    with pytest.raises(ConfigError, match="unsupported database"):
        Database("mysql://u@h/db")
    with pytest.raises(ConfigError, match="not a database URL"):
        normalize_url("::::")
