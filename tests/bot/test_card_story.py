"""The open card tells the approval story: who may approve, votes so far, time left, a quorum nobody can reach, and
which plan superseded an old card."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.blocks import plan_card
from core.approvals import Ballot
from core.domain import Plan, Status, Task
from core.domain.plan import PlanPayload
from core.timeutil import utcnow

PLAN_ID = "00000000-0000-4000-8000-00000000000a"


def plan(state: str = "awaiting_approval", reason: str | None = None) -> Plan:
    return Plan(
        id=PLAN_ID,
        task_id="00000000-0000-4000-8000-00000000000b",
        type="drift_plan",
        environment="production",
        payload=PlanPayload(summary="fix", affected_assets=["a"], phases=[{"name": "Canary", "assets": ["a"]}]),
        status=Status(state=state, reason=reason),
    )


def card(p: Plan, ballot: Ballot | None = None) -> str:
    return json.dumps(plan_card(Task(id=p.task_id, user_intent="fix", created_by="U0REQ"), p, ballot=ballot).blocks)


def test_an_open_card_shows_rule_votes_time_left_and_the_short_hash() -> None:
    ballot = Ballot("2 of <!subteam^S0SRE>", 2, ("U0A",), "f" * 64, utcnow() + timedelta(hours=3, minutes=59), 3)
    text = card(plan(), ballot)
    assert "Needs 2 of <!subteam^S0SRE>" in text and "1 of 2: <@U0A>" in text and "ffffffffffff" in text
    assert "expires in 3h 5" in text
    assert "plan_approve" in text
    assert "only" not in text, "a reachable quorum has no warning"


def test_a_quorum_nobody_can_reach_says_so_on_the_card() -> None:
    ballot = Ballot("2 of <@U0A>, <@U0REQ>", 2, (), "f" * 64, None, 1)
    assert "needs 2 approvals but only 1 people may approve it" in card(plan(), ballot)


def test_a_superseded_card_names_the_newer_plan_and_has_no_buttons() -> None:
    text = card(plan("superseded", "superseded by plan 12345678-aaaa-4bbb-8ccc-000000000000"))
    assert "Superseded by plan `12345678`" in text and "plan_approve" not in text


def test_the_decision_buttons_carry_the_version_the_approver_sees() -> None:
    from bot.blocks import seen_version

    ballot = Ballot("1 of <@U0A>", 1, (), "abcdef012345" + "0" * 52)
    blocks = plan_card(Task(id=plan().task_id, user_intent="fix"), plan(), ballot=ballot).blocks
    [decision] = [b for b in blocks if b.get("type") == "actions"]
    assert decision["block_id"] == "plan_decision:abcdef012345"
    assert seen_version(decision["block_id"]) == "abcdef012345"
    assert seen_version("plan_decision") is None and seen_version(None) is None


async def test_a_click_on_a_card_of_an_older_version_is_refused_and_changes_nothing(service) -> None:
    from core.intake import Ask

    outcome = await service.submit(Ask.from_front("fix drift on staging web servers", "U0REQUESTER"))
    stale = await service.decide(outcome.plan.id, "U0APPROVER1", "approved", seen_hash="0123456789ab")
    assert stale.status == "superseded" and "changed since you saw it" in stale.message
    assert (await service.get_plan(outcome.plan.id)).state == "awaiting_approval"
    current = service.plan_hash(outcome.plan)[:12]
    assert (await service.decide(outcome.plan.id, "U0APPROVER1", "approved", seen_hash=current)).status == "approved"
