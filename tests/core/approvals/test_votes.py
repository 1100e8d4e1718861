"""Votes as rows: quorum, one vote per person per plan version, self-approval, groups, and the plan hash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.approvals.groups import StaticGroupDirectory
from core.approvals.rules import ApprovalsConfig
from core.config import Config
from core.domain import Approval, Plan
from core.intake import Ask
from core.service import OpsPilot
from core.timeutil import utcnow

REQUESTER, APPROVER_1, APPROVER_2, OUTSIDER = "U0REQUESTER", "U0APPROVER1", "U0APPROVER2", "U0OUTSIDER"
PROD = "fix drift on prod web servers"  # production, high risk
DEV = "fix drift on dev web servers"  # development, low risk

RULES = {
    "rules": [
        {
            "match": {"environment": "production", "risk": ["high", "critical"]},
            "approvers": {"users": [APPROVER_1, APPROVER_2, REQUESTER]},
            "required": 2,
        },
        {"match": {"environment": "production"}, "approvers": {"groups": ["S0SRELEADS"]}, "required": 1},
        {"match": {}, "approvers": {"users": [APPROVER_1, REQUESTER]}, "required": 1, "allow_self_approval": True},
    ]
}


@pytest.fixture
async def voting(config: Config) -> AsyncIterator[OpsPilot]:
    config.approvers = []
    config.approvals = ApprovalsConfig.model_validate(RULES)
    service = await OpsPilot.create(config)
    await service.start()
    try:
        yield service
    finally:
        await service.close()


async def ask(service: OpsPilot, text: str = PROD) -> Plan:
    outcome = await service.submit(Ask(text=text, user_id=REQUESTER, channel_id="C0OPS"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval", outcome.message
    return outcome.plan


async def refusals(service: OpsPilot, plan_id: str) -> list[tuple[str, str]]:
    entries = await service.store.audit_entries([plan_id])
    return [(e.actor, e.details["code"]) for e in entries if e.event == "plan.decision_refused"]


async def test_two_of_n_the_first_vote_counts_and_the_second_starts_exactly_one_run(voting: OpsPilot) -> None:
    plan = await ask(voting)
    first = await voting.decide(plan.id, APPROVER_1, "approved")
    assert (first.status, first.votes, first.required, first.run) == ("voted", [APPROVER_1], 2, None)
    assert (await voting.get_plan(plan.id)).state == "awaiting_approval"
    assert (await voting.ballot(plan)).votes == (APPROVER_1,)

    again = await voting.decide(plan.id, APPROVER_1, "approved")
    assert again.status == "already_voted"

    second = await voting.decide(plan.id, APPROVER_2, "approved")
    assert second.status == "approved" and second.run is not None
    assert second.votes == [APPROVER_1, APPROVER_2]
    approved = await voting.get_plan(plan.id)
    assert approved.approval is not None and approved.approval.votes == [APPROVER_1, APPROVER_2]
    assert approved.approval.plan_hash == voting.plan_hash(approved)
    assert [r.id for r in await voting.store.runs_for_plan(plan.id)] == [second.run.id]

    late = await voting.decide(plan.id, OUTSIDER, "approved")
    assert late.status == "already_decided"
    await voting.executor.wait_idle(30)
    assert (await voting.store.get_run(second.run.id)).state == "completed"


async def test_a_requester_cannot_approve_his_own_high_risk_plan(voting: OpsPilot) -> None:
    plan = await ask(voting)
    refused = await voting.decide(plan.id, REQUESTER, "approved")
    assert refused.status == "self_approval" and "someone else" in refused.message
    assert await refusals(voting, plan.id) == [(REQUESTER, "self_approval")]
    assert await voting.store.runs_for_plan(plan.id) == []


async def test_self_approval_of_a_low_risk_plan_is_allowed_when_the_rule_allows_it(voting: OpsPilot) -> None:
    plan = await ask(voting, DEV)
    outcome = await voting.decide(plan.id, REQUESTER, "approved")
    assert outcome.status == "approved" and outcome.run is not None


async def test_an_outsider_is_refused_and_a_reject_by_an_approver_rejects(voting: OpsPilot) -> None:
    plan = await ask(voting)
    refused = await voting.decide(plan.id, OUTSIDER, "approved")
    assert refused.status == "not_approver" and "2 of" in refused.message
    await voting.decide(plan.id, APPROVER_1, "approved")
    rejected = await voting.decide(plan.id, APPROVER_2, "rejected", reason="not today")
    assert rejected.status == "rejected"
    stored = await voting.get_plan(plan.id)
    assert stored.state == "rejected" and stored.approval is not None and stored.approval.reason == "not today"
    assert await voting.store.runs_for_plan(plan.id) == []


async def test_a_new_plan_version_voids_earlier_votes(voting: OpsPilot) -> None:
    plan = await ask(voting)
    assert (await voting.decide(plan.id, APPROVER_1, "approved")).status == "voted"
    replanned = await voting.replan(plan.task_id, REQUESTER)
    assert replanned.plan is not None
    old = await voting.decide(plan.id, APPROVER_2, "approved")
    assert old.status == "superseded"
    assert (await voting.ballot(replanned.plan)).votes == ()
    fresh = await voting.decide(replanned.plan.id, APPROVER_1, "approved")
    assert fresh.status == "voted" and fresh.votes == [APPROVER_1]


async def test_votes_for_another_policy_bundle_no_longer_count(voting: OpsPilot) -> None:
    plan = await ask(voting)
    before = voting.plan_hash(plan)
    assert (await voting.decide(plan.id, APPROVER_1, "approved")).status == "voted"
    voting.config.policies.disable = ["production_safety"]  # the policies in force changed after the first vote
    assert voting.plan_hash(plan) != before
    outcome = await voting.decide(plan.id, APPROVER_2, "approved")
    assert outcome.status == "voted" and outcome.votes == [APPROVER_2], "the vote for the old hash is void"


async def test_group_members_may_approve_and_an_unreadable_group_lets_nobody_in(config: Config) -> None:
    config.approvers = []
    config.approvals = ApprovalsConfig.model_validate(
        {"rules": [{"match": {}, "approvers": {"groups": ["S0SRELEADS"]}, "required": 1}]}
    )
    service = await OpsPilot.create(config)
    try:
        plan = await ask(service)
        service.use_groups(StaticGroupDirectory({}))  # the lookup fails: nobody is in
        refused = await service.decide(plan.id, APPROVER_2, "approved")
        assert refused.status == "not_approver" and "could not read the members of group S0SRELEADS" in refused.message
        service.use_groups(StaticGroupDirectory({"S0SRELEADS": [APPROVER_2]}))
        assert (await service.decide(plan.id, APPROVER_1, "approved")).status == "not_approver"
        assert (await service.decide(plan.id, APPROVER_2, "approved")).status == "approved"
    finally:
        await service.close()


async def test_votes_after_the_rule_ttl_are_refused_as_expired(config: Config) -> None:
    config.approvers = []
    config.approvals = ApprovalsConfig.model_validate(
        {"rules": [{"match": {}, "approvers": {"users": [APPROVER_1]}, "ttl": "4h"}]}
    )
    service = await OpsPilot.create(config)
    try:
        plan = await ask(service)
        service.authorizer.now = lambda: utcnow() + timedelta(hours=5)
        assert (await service.decide(plan.id, APPROVER_1, "approved")).status == "expired"
    finally:
        await service.close()


async def test_the_executor_refuses_a_plan_whose_hash_changed_since_approval(voting: OpsPilot) -> None:
    plan = await ask(voting)
    stale = Approval(decision="approved", decided_by=APPROVER_1, plan_hash="0" * 64, votes=[APPROVER_1, APPROVER_2])
    await voting.store.transition(
        "plan", plan.id, "approved", actor=APPROVER_1, expect=("awaiting_approval",), changes={"approval": stale.to_document()}
    )
    approved = await voting.get_plan(plan.id)
    assert voting.executor.approval_problems(approved)
    run = await voting.executor.start(approved, APPROVER_1)
    await voting.executor.wait_idle(30)
    failed = await voting.store.get_run(run.id)
    assert failed.state == "failed"
    assert "changed since it was approved" in (failed.status.reason or "")
