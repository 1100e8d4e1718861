"""Concurrent final votes on PostgreSQL: votes on one plan are counted one after the other, so exactly one run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.approvals.rules import ApprovalsConfig
from core.config import Config
from core.intake import Ask
from core.service import OpsPilot
from tests.support.postgres import POSTGRES_URL, SKIP_REASON, fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(POSTGRES_URL is None, reason=SKIP_REASON)]

APPROVERS = ["U0APPROVER1", "U0APPROVER2", "U0APPROVER3"]


@pytest.fixture
async def on_postgres(config: Config) -> AsyncIterator[OpsPilot]:
    async with fresh_database() as url:
        config.database_url = url
        config.approvers = []
        config.approvals = ApprovalsConfig.model_validate(
            {"rules": [{"match": {}, "approvers": {"users": APPROVERS}, "required": 2}]}
        )
        service = await OpsPilot.create(config)
        await service.start()
        try:
            yield service
        finally:
            await service.close()


def _widen_the_race(service: OpsPilot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each vote holds its transaction open a moment after writing its row, so unserialized votes would overlap."""
    cast = service.votes.cast

    async def slow_cast(*args, **kwargs) -> None:
        await cast(*args, **kwargs)
        await asyncio.sleep(0.2)

    monkeypatch.setattr(service.votes, "cast", slow_cast)


async def _plan_id(service: OpsPilot) -> str:
    outcome = await service.submit(Ask(text="fix drift on staging web servers", user_id="U0REQUESTER", channel_id="C0OPS"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval", outcome.message
    return outcome.plan.id


async def test_two_votes_at_once_make_the_quorum_once(on_postgres: OpsPilot, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_id = await _plan_id(on_postgres)
    _widen_the_race(on_postgres, monkeypatch)
    outcomes = await asyncio.gather(*(on_postgres.decide(plan_id, a, "approved") for a in APPROVERS[:2]))
    assert sorted(o.status for o in outcomes) == ["approved", "voted"]
    assert len(await on_postgres.store.runs_for_plan(plan_id)) == 1


async def test_two_final_votes_at_once_start_exactly_one_run(on_postgres: OpsPilot, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_id = await _plan_id(on_postgres)
    assert (await on_postgres.decide(plan_id, APPROVERS[0], "approved")).status == "voted"
    _widen_the_race(on_postgres, monkeypatch)
    outcomes = await asyncio.gather(*(on_postgres.decide(plan_id, a, "approved") for a in APPROVERS[1:]))
    assert sorted(o.status for o in outcomes) == ["already_decided", "approved"]
    [run] = await on_postgres.store.runs_for_plan(plan_id)
    winner = next(o for o in outcomes if o.status == "approved")
    assert winner.run is not None and winner.run.id == run.id
    plan = await on_postgres.get_plan(plan_id)
    assert plan.approval is not None and len(plan.approval.votes) == 2
