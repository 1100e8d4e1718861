"""Recorded asks are planned by a worker, once: a worker that takes an ask over after a crash reuses or ends what the
earlier attempt stored, so no task is planned twice and no second card is asked for. SQLite always; PostgreSQL when
OPSPILOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.asks.worker import MAX_ATTEMPTS
from core.clock import ManualClock
from core.config import Config
from core.domain import Task
from core.intake import Ask
from core.service import OpsPilot
from core.store.tables import outbox_events, tasks
from tests.support.postgres import POSTGRES_URL, SKIP_REASON, create_database, drop_database

ASK = "fix drift on prod web servers"


@pytest.fixture(params=["sqlite", "postgresql"])
async def service(request, config: Config, tmp_path: Path) -> AsyncIterator[OpsPilot]:
    dropped = None
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip(SKIP_REASON)
        config.database_url, dropped = await create_database()
    svc = await OpsPilot.create(config, clock=ManualClock())  # not started: the tests drive the ask worker
    try:
        yield svc
    finally:
        await svc.close()
        if dropped:
            await drop_database(dropped)


def slack_ask(text: str = ASK) -> Ask:
    return Ask.from_front(text, "U0REQUESTER", "C0OPS", front="slack", via="slash_command", channel="C0OPS", user="U0REQUESTER")


async def events(service: OpsPilot, type_: str) -> list[dict]:
    async with service.store.database.engine.connect() as conn:
        rows = (await conn.execute(select(outbox_events.c.envelope).where(outbox_events.c.type == type_))).all()
    return [json.loads(row[0])["data"] for row in rows]


async def task_rows(service: OpsPilot) -> list[tuple[str, str]]:
    async with service.store.database.engine.connect() as conn:
        return [(r.id, r.state) for r in (await conn.execute(select(tasks.c.id, tasks.c.state))).all()]


async def test_a_recorded_ask_is_planned_under_its_task_id_and_answered_through_the_outbox(service: OpsPilot) -> None:
    ask_id = await service.asks.record(slack_ask(), front="slack", reply={"response_url": "https://hooks.example/r"})
    assert ask_id is not None
    recorded = await service.asks.get(ask_id)
    assert recorded is not None and recorded.state == "pending"

    await service.ask_worker.run_until_idle()

    done = await service.asks.get(ask_id)
    assert done is not None and done.state == "done" and done.task_id == recorded.task_id
    assert await task_rows(service) == [(recorded.task_id, "planned")]
    [answered] = await events(service, "ask.answered")
    assert answered["ask_id"] == ask_id and answered["outcome"] == "plan" and answered["task_id"] == recorded.task_id
    assert answered["origin"]["response_url"] == "https://hooks.example/r"
    assert answered["origin"]["channel"] == "C0OPS"
    [planned] = await events(service, "task.planned")
    assert planned["plan_id"] == answered["plan_id"]


async def test_an_ask_nobody_can_map_is_answered_without_a_task(service: OpsPilot) -> None:
    ask_id = await service.asks.record(slack_ask("make me a sandwich please"), front="slack")
    await service.ask_worker.run_until_idle()
    [answered] = await events(service, "ask.answered")
    assert answered["ask_id"] == ask_id and answered["outcome"] == "invalid" and answered["task_id"] is None
    assert await task_rows(service) == []


async def test_a_takeover_after_a_crash_mid_planning_ends_the_half_planned_task_and_plans_once(service: OpsPilot) -> None:
    ask_id = await service.asks.record(slack_ask(), front="slack")
    assert ask_id is not None
    recorded = await service.asks.get(ask_id)
    assert recorded is not None and recorded.task_id
    # A worker claimed it, stored the task and died before the plan settled it (so no task.planned was written).
    [claim] = await service.asks.work.claim("ask", "dead-worker", lease_seconds=60)
    assert claim.subject == ask_id
    half = Task(id=recorded.task_id, created_by=recorded.ask.user_id, user_intent=ASK, origin=recorded.ask.origin)
    await service.store.add_task(half, recorded.ask.user_id)
    await service.store.transition("task", half.id, "parsing", actor=recorded.ask.user_id)

    assert await service.ask_worker.tick() == []  # the lease still holds
    service.clock.advance(61)  # type: ignore[attr-defined]
    await service.ask_worker.run_until_idle()

    done = await service.asks.get(ask_id)
    assert done is not None and done.state == "done" and done.task_id != half.id
    states = dict(await task_rows(service))
    assert states == {half.id: "failed", done.task_id: "planned"}
    assert "interrupted" in (await service.store.get_task(half.id)).status.reason
    assert len(await events(service, "task.planned")) == 1
    assert [e["task_id"] for e in await events(service, "ask.answered")] == [done.task_id]


async def test_a_takeover_after_planning_finished_answers_without_planning_again(service: OpsPilot) -> None:
    ask_id = await service.asks.record(slack_ask(), front="slack")
    assert ask_id is not None
    recorded = await service.asks.get(ask_id)
    assert recorded is not None
    await service.asks.work.claim("ask", "dead-worker", lease_seconds=60)
    outcome = await service.submit(recorded.ask, task_id=recorded.task_id)  # planned, then the worker died
    assert outcome.kind == "plan" and outcome.plan is not None

    service.clock.advance(61)  # type: ignore[attr-defined]
    await service.ask_worker.run_until_idle()

    assert await task_rows(service) == [(recorded.task_id, "planned")]
    assert len(await events(service, "task.planned")) == 1  # one card
    [answered] = await events(service, "ask.answered")
    assert answered["outcome"] == "plan" and answered["plan_id"] == outcome.plan.id


async def test_an_error_escaping_planning_is_retried_then_answered_as_failed(service: OpsPilot, monkeypatch) -> None:
    calls = 0

    async def broken(ask: Ask, *, task_id: str | None = None):
        nonlocal calls
        calls += 1
        raise RuntimeError("database went away")

    monkeypatch.setattr(service, "submit", broken)
    ask_id = await service.asks.record(slack_ask(), front="slack")
    for _ in range(MAX_ATTEMPTS):
        await service.ask_worker.run_until_idle()
        service.clock.advance(3600)  # type: ignore[attr-defined]
    assert calls == MAX_ATTEMPTS
    done = await service.asks.get(ask_id or "")
    assert done is not None and done.state == "failed" and "database went away" in (done.error or "")
    [answered] = await events(service, "ask.answered")
    assert answered["outcome"] == "failed" and "OpsPilot's log" in answered["message"]
