"""Votes over REST: self-approval refused (403 self_approval), a 2-of-N quorum answered with the votes so far."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from bot.playground.emulator import APPROVER_1, APPROVER_2, REQUESTER
from tests.bot.rest.support import API, APPROVER_2_TOKEN, APPROVER_TOKEN, REQUESTER_TOKEN, TOKENS, ApiWorld

PROD = "fix drift on prod web servers"  # production, high risk


async def test_self_approval_is_refused_and_two_votes_make_the_quorum(make_world, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rule = {"match": {"environment": "production"}, "approvers": {"users": [APPROVER_1, APPROVER_2, REQUESTER]}, "required": 2}
    rules.write_text(json.dumps({"approvals": {"rules": [rule]}}), encoding="utf-8")
    world = await make_world(env={"OPSPILOT_API_TOKENS": TOKENS, "OPSPILOT_CONFIG": str(rules)})
    async with aiohttp.ClientSession(base_url=world.bot.url) as session:
        api = ApiWorld(world, session)
        task_id = (await api.execute(PROD)).body["task"]["id"]
        approve = f"{API}/tasks/{task_id}/approve"

        own = await api.call("POST", approve, REQUESTER_TOKEN)
        assert own.status == 403 and own.body["error"]["code"] == "self_approval", own.body

        first = await api.call("POST", approve, APPROVER_TOKEN)
        assert first.status == 200, first.body
        assert first.body["decision"] == "voted" and first.body["votes"] == [APPROVER_1] and first.body["required"] == 2
        assert first.body["run"] is None and first.body["plan"]["status"]["state"] == "awaiting_approval"

        twice = await api.call("POST", approve, APPROVER_TOKEN)
        assert twice.status == 403 and twice.body["error"]["code"] == "already_voted"

        second = await api.call("POST", approve, APPROVER_2_TOKEN)
        assert second.status == 200 and second.body["decision"] == "approved", second.body
        assert second.body["votes"] == [APPROVER_1, APPROVER_2] and second.body["run"] is not None

        late = await api.call("POST", f"{API}/tasks/{task_id}/reject", APPROVER_TOKEN)
        assert late.status == 409 and late.body["error"]["code"] == "already_decided"


async def test_a_frozen_environment_refuses_votes_over_rest_with_403_frozen(make_world, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rule = {"match": {"environment": "production"}, "approvers": {"users": [APPROVER_1, APPROVER_2]}, "required": 1}
    rules.write_text(json.dumps({"approvals": {"rules": [rule]}}), encoding="utf-8")
    world = await make_world(env={"OPSPILOT_API_TOKENS": TOKENS, "OPSPILOT_CONFIG": str(rules)})
    async with aiohttp.ClientSession(base_url=world.bot.url) as session:
        api = ApiWorld(world, session)
        task_id = (await api.execute(PROD)).body["task"]["id"]
        assert (await world.service.freeze("production", APPROVER_2, "incident 42")).status == "frozen"
        for verb in ("approve", "reject"):
            refused = await api.call("POST", f"{API}/tasks/{task_id}/{verb}", APPROVER_TOKEN)
            assert refused.status == 403 and refused.body["error"]["code"] == "frozen", refused.body
            assert "incident 42" in refused.body["error"]["message"]
        await world.service.unfreeze("production", APPROVER_2)
        approved = await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN)
        assert approved.status == 200 and approved.body["decision"] == "approved", approved.body


async def test_a_vote_for_a_version_the_caller_did_not_review_is_refused_as_superseded(make_world, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rule = {"match": {"environment": "production"}, "approvers": {"users": [APPROVER_1, APPROVER_2]}, "required": 1}
    rules.write_text(json.dumps({"approvals": {"rules": [rule]}}), encoding="utf-8")
    world = await make_world(env={"OPSPILOT_API_TOKENS": TOKENS, "OPSPILOT_CONFIG": str(rules)})
    async with aiohttp.ClientSession(base_url=world.bot.url) as session:
        api = ApiWorld(world, session)
        task_id = (await api.execute(PROD)).body["task"]["id"]
        plan = (await world.service.queries.plans_for_task(task_id))[-1]
        current = world.service.plan_hash(plan)
        approve = f"{API}/tasks/{task_id}/approve"
        stale = await api.call("POST", approve, APPROVER_TOKEN, json={"plan_hash": "0123456789ab"})
        assert stale.status == 403 and stale.body["error"]["code"] == "superseded", stale.body
        assert (await world.service.get_plan(plan.id)).state == "awaiting_approval", "nothing changed"
        bad = await api.call("POST", approve, APPROVER_TOKEN, json={"plan_hash": "not a hash"})
        assert bad.status == 422 and bad.body["error"]["code"] == "invalid_request", bad.body
        seen = await api.call("POST", approve, APPROVER_TOKEN, json={"plan_hash": current[:12]})
        assert seen.status == 200 and seen.body["decision"] == "approved", seen.body
