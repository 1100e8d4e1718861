"""What the REST API refuses, and how: auth, bad bodies, unknown ids, unknown asks, dry runs, /ready, /metrics."""

from __future__ import annotations

import pytest

from tests.bot.rest.support import API, APPROVER_TOKEN, OUTSIDER_TOKEN, REQUESTER_TOKEN, ApiWorld, metric

ASK = "fix drift on prod web servers"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token " + REQUESTER_TOKEN])
async def test_no_usable_credentials_is_401_with_a_challenge(api: ApiWorld, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    answer = await api.call("GET", f"{API}/tasks", None, headers=headers)
    assert answer.status == 401
    assert answer.body["error"]["code"] == "unauthorized"
    assert "Authorization: Bearer" in answer.body["error"]["message"]
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="opspilot"'


async def test_unknown_token_is_401_and_never_echoed(api: ApiWorld) -> None:
    for token in ("x" * 40, REQUESTER_TOKEN[:-1], REQUESTER_TOKEN + "x"):
        answer = await api.call("POST", f"{API}/execute", token, json={"intent": ASK})
        assert answer.status == 401
        assert answer.body["error"]["code"] == "invalid_token"
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
        assert token not in str(answer.body)
    assert (await api.call("GET", f"{API}/tasks")).body["tasks"] == []  # nothing was submitted


async def test_unauthenticated_requests_learn_nothing_about_routes(api: ApiWorld) -> None:
    assert (await api.call("GET", f"{API}/no-such-thing", None)).status == 401
    missing = await api.call("GET", f"{API}/no-such-thing")
    assert missing.status == 404 and missing.body["error"]["code"] == "no_such_route"
    wrong = await api.call("GET", f"{API}/execute")
    assert wrong.status == 405 and wrong.body["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong.body["error"]["message"]


async def test_unknown_ids_are_404(api: ApiWorld) -> None:
    for method, path in [
        ("GET", f"{API}/tasks/nope"),
        ("GET", f"{API}/tasks/nope/executions"),
        ("GET", f"{API}/tasks/nope/audit"),
        ("POST", f"{API}/tasks/nope/approve"),
        ("POST", f"{API}/tasks/nope/reject"),
        ("GET", f"{API}/executions/nope"),
        ("POST", f"{API}/executions/nope/pause"),
    ]:
        answer = await api.call(method, path, APPROVER_TOKEN)
        assert answer.status == 404, (path, answer.body)
        assert answer.body["error"]["code"] == "not_found"
        assert answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        ("{not json", "bad_json", 400),
        ("", "bad_json", 400),
        ('["fix drift"]', "bad_json", 400),
        ("\xff\xfe", "bad_json", 400),
        ("{}", "invalid_request", 422),
        ('{"intent": "   "}', "invalid_request", 422),
        ('{"intent": 42}', "invalid_request", 422),
        ('{"intent": "fix drift on prod web servers", "dry_run": "yes"}', "invalid_request", 422),
        ('{"intent": "fix drift on prod web servers", "org_id": "x"}', "invalid_request", 422),
    ],
)
async def test_bad_bodies(api: ApiWorld, data: str, code: str, status: int) -> None:
    answer = await api.call("POST", f"{API}/execute", data=data.encode("latin-1"), headers={"Content-Type": "application/json"})
    assert answer.status == status, answer.body
    assert answer.body["error"]["code"] == code
    assert '"intent"' in answer.body["error"]["message"]  # says what would work
    assert (await api.call("GET", f"{API}/tasks")).body["tasks"] == []


async def test_body_size_is_limited(api: ApiWorld) -> None:
    limit = api.service.config.api.max_body_bytes
    answer = await api.call("POST", f"{API}/execute", json={"intent": "x" * (limit + 1)})
    assert answer.status == 413
    assert answer.body["error"]["code"] == "payload_too_large"
    assert str(limit) in answer.body["error"]["message"]


async def test_decision_reason_is_validated(api: ApiWorld) -> None:
    task_id = (await api.execute(ASK)).body["task"]["id"]
    long = await api.call("POST", f"{API}/tasks/{task_id}/reject", APPROVER_TOKEN, json={"reason": "x" * 1001})
    assert long.status == 422 and "reason" in long.body["error"]["message"]
    wrong = await api.call("POST", f"{API}/tasks/{task_id}/reject", APPROVER_TOKEN, json={"why": "no"})
    assert wrong.status == 422
    detail = (await api.call("GET", f"{API}/tasks/{task_id}")).body
    assert detail["plans"][0]["status"]["state"] == "awaiting_approval"


async def test_unknown_ask_is_422_and_lists_asks_that_work(api: ApiWorld) -> None:
    answer = await api.execute("make me a sandwich")
    assert answer.status == 422
    assert answer.body["error"]["code"] == "unknown_ask"
    assert "Asks that work today" in answer.body["error"]["message"]
    assert "fix drift" in answer.body["error"]["message"]
    assert (await api.call("GET", f"{API}/tasks")).body["tasks"] == []


async def test_dry_run_plans_but_stores_nothing(api: ApiWorld) -> None:
    answer = await api.execute(ASK, dry_run=True)
    assert answer.status == 200, answer.body
    assert answer.body["dry_run"] is True and answer.body["task"] is None
    assert answer.body["plan"]["status"]["state"] == "validated"
    assert answer.body["requires_approval"] is True
    assert answer.body["task_spec"]["task_type"]
    assert (await api.call("GET", f"{API}/tasks")).body["tasks"] == []
    assert (await api.call("GET", f"{API}/tasks/{answer.body['plan']['task_id']}")).status == 404
    values = await api.metrics()
    assert metric(values, "opspilot_tasks_total", state="created") == 0
    assert metric(values, "opspilot_plans_total", state="draft") == 0


async def test_list_tasks_filters_and_validates(api: ApiWorld) -> None:
    planned = (await api.execute(ASK)).body["task"]["id"]
    nothing = (await api.execute("where can we cut cost", OUTSIDER_TOKEN)).body["task"]["id"]
    listed = await api.call("GET", f"{API}/tasks")
    assert [t["id"] for t in listed.body["tasks"]] == [nothing, planned] and listed.body["count"] == 2
    assert [t["id"] for t in (await api.call("GET", f"{API}/tasks?limit=1")).body["tasks"]] == [nothing]
    assert len((await api.call("GET", f"{API}/tasks?state=planned")).body["tasks"]) == 2
    assert (await api.call("GET", f"{API}/tasks?state=failed")).body["tasks"] == []
    for query in ("state=done", "limit=0", "limit=many", "limit=1000", "owner=me"):
        bad = await api.call("GET", f"{API}/tasks?{query}")
        assert bad.status == 400, query
        assert bad.body["error"]["code"] == "invalid_query"
    assert "planned" in (await api.call("GET", f"{API}/tasks?state=done")).body["error"]["message"]


async def test_api_is_closed_without_tokens(make_api_world) -> None:
    api = await make_api_world(tokens=None)
    answer = await api.call("GET", f"{API}/tasks", REQUESTER_TOKEN)
    assert answer.status == 503
    assert answer.body["error"]["code"] == "api_disabled"
    assert "OPSPILOT_API_TOKENS" in answer.body["error"]["message"]
    assert (await api.call("POST", f"{API}/execute", None, json={"intent": ASK})).status == 503
    async with api.session.get("/ready") as ready:
        assert ready.status == 200
    assert await api.metrics()


async def test_ready_and_metrics(api: ApiWorld, monkeypatch) -> None:
    async with api.session.get("/ready") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ready", "database": "ok", "role": "all"}

    from bot.rest import monitoring

    async def broken(_service) -> None:
        raise OSError("database is gone")

    monkeypatch.setattr(monitoring, "_ping", broken)
    async with api.session.get("/ready") as response:
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "unavailable" and body["database"] == "error"

    async with api.session.get("/metrics") as response:
        text = await response.text()
    for name in (
        "opspilot_tasks_total",
        "opspilot_plans_total",
        "opspilot_runs_total",
        "opspilot_agent_latency_seconds",
        "opspilot_tool_calls_total",
        "opspilot_llm_tokens_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text or f"# TYPE {name}" in text, name
    assert REQUESTER_TOKEN not in text


async def test_metrics_show_the_delivery_backlog_dead_letters_and_lag(api: ApiWorld) -> None:
    from core.errors import DeliveryFailed, DeliveryRejected
    from core.outbox import CloudEvent, Delivery, Subscriber

    class Down(Subscriber):
        def __init__(self, name: str, error: Exception) -> None:
            self.name, self.error = name, error

        def wants(self, event: CloudEvent) -> bool:
            return event.type == "task.planned"

        async def deliver(self, delivery: Delivery) -> None:
            raise self.error

    api.service.outbox.register(Down("down", DeliveryFailed("receiver away")), Down("gone", DeliveryRejected("HTTP 410")))
    assert (await api.execute(ASK)).status == 201
    await api.service.dispatcher.run_until_idle()
    values = await api.metrics()
    assert metric(values, "opspilot_outbox_backlog", subscriber="down") == 1
    assert metric(values, "opspilot_outbox_dead_letters", subscriber="gone") == 1
    assert metric(values, "opspilot_outbox_dead_letters", subscriber="down") == 0
    assert metric(values, "opspilot_outbox_lag_seconds") >= 0
    assert metric(values, "opspilot_claimed_work", kind="delivery") == 0
