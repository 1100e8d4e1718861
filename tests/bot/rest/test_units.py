"""Token parsing, and metrics fed from audit events, without a server."""

from __future__ import annotations

import pytest

from bot.rest.auth import TokenTable, bearer_token, parse_tokens
from core.errors import ConfigError
from core.events import AuditAppended
from core.metrics import Metrics, state_entered

TOKEN = "0123456789abcdef0123"


def test_parse_tokens() -> None:
    table = parse_tokens(f" {TOKEN}=U0APPROVER1 , {TOKEN}x==U0REQUESTER,")
    assert len(table) == 2
    assert table.user_for(TOKEN) == "U0APPROVER1"
    assert table.user_for(TOKEN + "x=") == "U0REQUESTER"  # '=' padding belongs to the token
    assert table.user_for("nope") is None and table.user_for("") is None
    assert TOKEN not in repr(table)
    assert not parse_tokens(None).configured and not parse_tokens("").configured
    assert not TokenTable().configured


@pytest.mark.parametrize("raw", ["justatoken", f"{TOKEN}=", "=U0APPROVER1", "short=U0APPROVER1", f"{TOKEN}=U0A,{TOKEN}=U0B"])
def test_malformed_tokens_stop_startup_without_showing_them(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tokens(raw)
    assert "OPSPILOT_API_TOKENS" in str(caught.value)
    assert TOKEN not in str(caught.value) and "justatoken" not in str(caught.value)


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


def test_state_entered() -> None:
    assert state_entered("task", "task.created") == "created"
    assert state_entered("plan", "plan.created") == "draft"
    assert state_entered("run", "run.created") == "queued"
    assert state_entered("plan", "plan.awaiting_approval") == "awaiting_approval"
    assert state_entered("run", "run.rolled_back") == "rolled_back"
    for entity, event in [
        ("plan", "plan.decision_refused"),
        ("task", "task.replanned.planned"),
        ("run", "notification.failed"),
        ("run", "run.control_refused"),
        ("plan", "task.planned"),
        ("asset", "asset.created"),
    ]:
        assert state_entered(entity, event) is None


async def test_metrics_count_audit_transitions_in_their_own_registry() -> None:
    first, second = Metrics(), Metrics()
    await first.on_audit(AuditAppended(entity_type="run", entity_id="r1", event="run.completed", actor="opspilot", details={}))
    await first.on_audit(AuditAppended(entity_type="run", entity_id="r1", event="run.control_refused", actor="U0X", details={}))
    text = first.exposition().decode()
    assert 'opspilot_runs_total{state="completed"} 1.0' in text
    assert 'opspilot_runs_total{state="completed"} 0.0' in second.exposition().decode()


async def test_attach_times_agents_counts_tools_and_tokens() -> None:
    from types import SimpleNamespace

    from core.domain import Usage
    from core.errors import ToolError, ToolNotAllowed
    from core.events import EventBus

    class Tools:
        async def call(self, name, arguments, context, **_):
            if name == "build_image":
                raise ToolNotAllowed("write-class")
            if name == "broken":
                raise ToolError("boom")
            return {"summary": "ok"}

    class Agent:
        name = "drift_agent"

        async def plan(self, spec, task_id, ctx):
            await ctx.call("query_assets", {}, None)
            return SimpleNamespace(usage=Usage(input_tokens=120, output_tokens=30, cache_read_tokens=5))

    class Engine:
        async def task_spec(self, request):
            return SimpleNamespace(usage=Usage(input_tokens=10, output_tokens=4))

    agent, tools = Agent(), Tools()
    service = SimpleNamespace(bus=EventBus(), tools=tools, engine=Engine(), agents=SimpleNamespace(all=lambda: [agent]))
    metrics = Metrics()
    metrics.attach(service)
    with pytest.raises(ValueError):
        Metrics().attach(service)

    await service.engine.task_spec("ask")
    await agent.plan(None, "t1", SimpleNamespace(call=tools.call))
    with pytest.raises(ToolNotAllowed):
        await tools.call("build_image", {}, None)
    with pytest.raises(ToolError):
        await tools.call("broken", {}, None)
    await service.bus.publish(AuditAppended(entity_type="task", entity_id="t1", event="task.created", actor="U0X", details={}))

    text = metrics.exposition().decode()
    assert 'opspilot_llm_tokens_total{kind="input"} 130.0' in text
    assert 'opspilot_llm_tokens_total{kind="output"} 34.0' in text
    assert 'opspilot_llm_tokens_total{kind="cache_read"} 5.0' in text
    assert 'opspilot_tool_calls_total{result="ok",tool="query_assets"} 1.0' in text
    assert 'opspilot_tool_calls_total{result="refused",tool="build_image"} 1.0' in text
    assert 'opspilot_tool_calls_total{result="error",tool="broken"} 1.0' in text
    assert 'opspilot_agent_latency_seconds_count{agent="drift_agent"} 1.0' in text
    assert 'opspilot_tasks_total{state="created"} 1.0' in text
