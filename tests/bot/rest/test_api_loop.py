"""The whole loop over the REST API: execute → approve → phased run → execution and audit, on a real server."""

from __future__ import annotations

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, OUTSIDER
from tests.bot.rest.support import (
    API,
    APPROVER_2_TOKEN,
    APPROVER_TOKEN,
    OUTSIDER_TOKEN,
    REQUESTER_TOKEN,
    ApiWorld,
    metric,
)

ASK = "fix drift on prod web servers"


async def test_execute_approve_run_and_audit(api: ApiWorld) -> None:
    submitted = await api.execute(ASK)
    assert submitted.status == 201, submitted.body
    body = submitted.body
    task_id, plan_id = body["task"]["id"], body["plan"]["id"]
    assert submitted.headers["Location"] == f"{API}/tasks/{task_id}"
    assert body["requires_approval"] is True and body["dry_run"] is False
    assert body["task"]["status"]["state"] == "planned"
    assert body["task"]["origin"] == {"front": "api"}
    assert body["task_spec"]["context"]["environment"] == "production"
    assert body["plan"]["status"]["state"] == "awaiting_approval"
    assert body["plan"]["payload"]["phases"][0]["name"].startswith("Canary")

    approved = await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN, json={"reason": "canary looks small"})
    assert approved.status == 200, approved.body
    assert approved.body["decision"] == "approved"
    assert approved.body["plan"]["approval"]["decided_by"] == APPROVER_1
    assert approved.body["plan"]["approval"]["reason"] == "canary looks small"
    run_id = approved.body["run"]["id"]

    run = await api.wait_for_run(run_id, lambda r: r["status"]["state"] in ("completed", "rolled_back", "failed"))
    assert run["status"]["state"] == "completed"
    assert run["plan_id"] == plan_id
    assert run["progress"]["phases_completed"] == run["progress"]["total_phases"] == len(body["plan"]["payload"]["phases"])
    events = [e["event"] for e in run["audit_log"]]
    assert events[0] == "run.created" and events[-1] == "run.completed"

    detail = await api.call("GET", f"{API}/tasks/{task_id}")
    assert detail.status == 200
    assert [p["status"]["state"] for p in detail.body["plans"]] == ["approved"]
    assert [r["id"] for r in detail.body["runs"]] == [run_id]
    assert detail.body["runs"][0]["status"]["state"] == "completed"

    executions = await api.call("GET", f"{API}/tasks/{task_id}/executions")
    assert executions.status == 200
    assert [r["id"] for r in executions.body["executions"]] == [run_id]

    audit = await api.call("GET", f"{API}/tasks/{task_id}/audit")
    assert audit.status == 200
    assert audit.body["consistent"] is True and audit.body["mismatches"] == {}
    decided = [e for e in audit.body["entries"] if e["event"] == "plan.approved"]
    assert [(e["actor"], e["entity"]) for e in decided] == [(APPROVER_1, f"plan:{plan_id}")]
    assert audit.body["entries"][-1]["event"] == "run.completed"

    listed = await api.call("GET", f"{API}/tasks?limit=5")
    assert [t["id"] for t in listed.body["tasks"]] == [task_id]

    # An API task has no Slack card: nothing was posted to any channel.
    assert api.emulator.messages(OPS_CHANNEL) == []


async def test_outsider_cannot_decide_and_the_refusal_is_audited(api: ApiWorld) -> None:
    task_id = (await api.execute(ASK)).body["task"]["id"]
    for action in ("approve", "reject"):
        refused = await api.call("POST", f"{API}/tasks/{task_id}/{action}", OUTSIDER_TOKEN)
        assert refused.status == 403, refused.body
        assert refused.body["error"]["code"] == "not_approver"
        assert "not allowed" in refused.body["error"]["message"]
    # the requester who asked may not decide either
    assert (await api.call("POST", f"{API}/tasks/{task_id}/approve", REQUESTER_TOKEN)).status == 403

    detail = await api.call("GET", f"{API}/tasks/{task_id}")
    assert detail.body["plans"][0]["status"]["state"] == "awaiting_approval"
    assert detail.body["runs"] == []
    audit = (await api.call("GET", f"{API}/tasks/{task_id}/audit")).body
    refusals = [
        (e["event"], e["actor"], e["details"]["decision"]) for e in audit["entries"] if e["event"] == "plan.decision_refused"
    ]
    assert refusals == [
        ("plan.decision_refused", OUTSIDER, "approved"),
        ("plan.decision_refused", OUTSIDER, "rejected"),
        ("plan.decision_refused", "U0REQUESTER", "approved"),
    ]
    assert audit["consistent"] is True


async def test_second_decision_is_409_and_changes_nothing(api: ApiWorld) -> None:
    task_id = (await api.execute(ASK)).body["task"]["id"]
    first = await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN)
    assert first.status == 200
    run_id = first.body["run"]["id"]
    await api.wait_for_run(run_id, lambda r: r["status"]["state"] == "completed")

    again = await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN)
    assert again.status == 409
    assert again.body["error"]["code"] == "already_decided"
    assert f"already approved by {APPROVER_1}" in again.body["error"]["message"]
    other = await api.call("POST", f"{API}/tasks/{task_id}/reject", APPROVER_2_TOKEN, json={"reason": "too late"})
    assert other.status == 409

    detail = (await api.call("GET", f"{API}/tasks/{task_id}")).body
    assert [r["id"] for r in detail["runs"]] == [run_id]
    assert detail["plans"][0]["approval"]["decision"] == "approved"


async def test_reject_with_reason(api: ApiWorld) -> None:
    task_id = (await api.execute(ASK)).body["task"]["id"]
    rejected = await api.call("POST", f"{API}/tasks/{task_id}/reject", APPROVER_2_TOKEN, json={"reason": "not during the sale"})
    assert rejected.status == 200
    assert rejected.body["decision"] == "rejected" and rejected.body["run"] is None
    assert rejected.body["plan"]["approval"]["reason"] == "not during the sale"
    assert (await api.call("GET", f"{API}/tasks/{task_id}/executions")).body["executions"] == []


async def test_a_task_without_a_plan_has_nothing_to_decide(api: ApiWorld) -> None:
    report = await api.execute("where can we cut cost")
    assert report.status == 201, report.body
    assert report.body["requires_approval"] is False
    answer = await api.call("POST", f"{API}/tasks/{report.body['task']['id']}/approve", APPROVER_TOKEN)
    assert answer.status == 409
    assert answer.body["error"]["code"] == "nothing_to_decide"
    assert "cannot be decided" in answer.body["error"]["message"]


async def test_pause_resume_and_cancel_an_execution(api: ApiWorld) -> None:
    api.service.executor.wait_scale = 1.0  # the canary's wait now lasts minutes: the run sits between phases
    task_id = (await api.execute(ASK)).body["task"]["id"]
    run_id = (await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN)).body["run"]["id"]
    await api.wait_for_run(run_id, lambda r: r["progress"]["phases_completed"] >= 1)

    refused = await api.call("POST", f"{API}/executions/{run_id}/pause", OUTSIDER_TOKEN)
    assert refused.status == 403 and refused.body["error"]["code"] == "not_allowed"

    paused = await api.call("POST", f"{API}/executions/{run_id}/pause", APPROVER_TOKEN)
    assert paused.status == 200, paused.body
    assert paused.body["status"] == "paused" and paused.body["execution"]["status"]["state"] == "paused"
    twice = await api.call("POST", f"{API}/executions/{run_id}/pause", APPROVER_TOKEN)
    assert twice.status == 409 and twice.body["error"]["code"] == "conflict"

    resumed = await api.call("POST", f"{API}/executions/{run_id}/resume", APPROVER_2_TOKEN)
    assert resumed.status == 200, resumed.body
    assert resumed.body["execution"]["status"]["state"] == "executing"

    cancelled = await api.call("POST", f"{API}/executions/{run_id}/cancel", APPROVER_TOKEN)
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["execution"]["status"]["state"] == "rolled_back"
    again = await api.call("POST", f"{API}/executions/{run_id}/cancel", APPROVER_TOKEN)
    assert again.status == 409

    run = (await api.call("GET", f"{API}/executions/{run_id}")).body
    actors = {(e["event"], e["actor"]) for e in run["audit_log"]}
    assert {("run.paused", APPROVER_1), ("run.control_refused", OUTSIDER), ("run.rolled_back", APPROVER_1)} <= actors
    assert (await api.call("GET", f"{API}/tasks/{task_id}/audit")).body["consistent"] is True

    missing = await api.call("POST", f"{API}/executions/no-such-run/cancel", APPROVER_TOKEN)
    assert missing.status == 404


async def test_agents_and_tools(api: ApiWorld) -> None:
    agents = await api.call("GET", f"{API}/agents")
    assert agents.status == 200
    names = [a["name"] for a in agents.body["agents"]]
    assert len(names) == 10
    drift = next(a for a in agents.body["agents"] if "query_assets" in a["tools"] and "compare_versions" in a["tools"])
    assert drift["title"] and drift["description"]
    tools = await api.call("GET", f"{API}/tools")
    assert tools.status == 200
    assert {t["risk"] for t in tools.body["tools"]} == {"read", "plan", "write"}
    assert all(set(t) == {"name", "description", "risk"} for t in tools.body["tools"])


async def test_metrics_count_every_front(api: ApiWorld) -> None:
    before = await api.metrics()
    assert metric(before, "opspilot_tasks_total", state="created") == 0
    assert metric(before, "opspilot_llm_tokens_total", kind="input") == 0

    task_id = (await api.execute(ASK)).body["task"]["id"]
    run_id = (await api.call("POST", f"{API}/tasks/{task_id}/approve", APPROVER_TOKEN)).body["run"]["id"]
    await api.wait_for_run(run_id, lambda r: r["status"]["state"] == "completed")
    # an ask through Slack counts too (prod is fixed by now: ask for staging)
    await api.emulator.send_slash_command("U0REQUESTER", OPS_CHANNEL, "/ops", "fix drift on staging web servers")
    await api.emulator.wait_for(lambda: metric_sync(api) >= 2, timeout=15)

    after = await api.metrics()
    assert metric(after, "opspilot_tasks_total", state="created") == 2
    assert metric(after, "opspilot_tasks_total", state="planned") == 2
    assert metric(after, "opspilot_plans_total", state="awaiting_approval") == 2
    assert metric(after, "opspilot_plans_total", state="approved") == 1
    assert metric(after, "opspilot_runs_total", state="queued") == 1
    assert metric(after, "opspilot_runs_total", state="completed") == 1
    assert metric(after, "opspilot_tool_calls_total", tool="query_assets", result="ok") >= 2
    assert metric(after, "opspilot_agent_latency_seconds_count", agent="drift_agent") == 2
    assert metric(after, "opspilot_llm_tokens_total", kind="input") == 0  # the offline planner spends none
    assert not any(name.endswith("_created") for name, _ in after)


def metric_sync(api: ApiWorld) -> int:
    from core.metrics import metrics_of

    return int(metrics_of(api.service).states["task"].labels(state="planned")._value.get())


async def test_a_slack_ask_can_be_approved_over_the_api(api: ApiWorld) -> None:
    emu = api.emulator
    await emu.send_slash_command("U0REQUESTER", OPS_CHANNEL, "/ops", ASK)
    card = await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if m.blocks), None), timeout=15)
    task = (await api.call("GET", f"{API}/tasks")).body["tasks"][0]
    assert task["origin"]["front"] == "slack"

    approved = await api.call("POST", f"{API}/tasks/{task['id']}/approve", APPROVER_TOKEN)
    assert approved.status == 200, approved.body
    await api.wait_for_run(approved.body["run"]["id"], lambda r: r["status"]["state"] == "completed")
    # the card was rewritten (no more buttons) and the run reported in its thread, as for a click
    await emu.wait_for(lambda: any(c.params.get("ts") == card.ts for c in emu.calls_to("chat.update")), timeout=10)
    await emu.wait_for(lambda: len(emu.thread(OPS_CHANNEL, card.ts)) >= 2, timeout=10)
