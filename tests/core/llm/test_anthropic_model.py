"""The Anthropic planner over the real SDK against the loopback fake: forced structured output, repair,
truncation, errors, budget and fallback."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import LLMError, SpecError
from core.llm import AnthropicModel, MetaPromptEngine, SpecRequest
from core.store import Store
from tests.fakes.anthropic_server import FakeAnthropic, overloaded, rate_limited, text, tool_use, truncated
from tests.fakes.claude import budgeted, client_for

AGENTS = ({"name": "drift_agent", "task_types": ["drift_remediation"], "description": "drift", "tools": ["query_assets"]},)
TOOLS = ({"name": "query_assets", "description": "list assets", "risk": "read"},)


def spec(**overrides: Any) -> dict[str, Any]:
    document = {
        "task_type": "drift_remediation",
        "goal": "Remediate drift for production web servers",
        "context": {"environment": "production", "scope": {"roles": ["web-server"]}},
        "agents": [{"name": "drift_agent", "priority": 1}],
        "tools_required": ["query_assets"],
        "risk_level": "high",
        "hitl_required": True,
    }
    return {**document, **overrides}


def ask(text_: str = "fix drift on prod web servers") -> SpecRequest:
    return SpecRequest(text=text_, user_id="U1", channel_id="C1", agents=AGENTS, tools=TOOLS, org_id="T1")


async def test_the_spec_comes_from_a_forced_emit_task_spec_call_with_the_schema_and_cached_prefix(
    fake: FakeAnthropic,
    model: AnthropicModel,
) -> None:
    fake.script(tool_use("emit_task_spec", spec()))

    draft = await model.draft_spec(ask())

    assert draft.spec.task_type == "drift_remediation" and draft.spec.context.scope.roles == ["web-server"]
    sent = fake.requests[0]
    assert sent["tool_choice"] == {"type": "tool", "name": "emit_task_spec"}
    assert sent["tools"][0]["input_schema"]["required"] == [
        "task_type",
        "goal",
        "context",
        "agents",
        "tools_required",
        "risk_level",
        "hitl_required",
    ]
    assert sent["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "drift_agent" in sent["system"][0]["text"] and "query_assets [read]" in sent["system"][0]["text"]
    assert "fix drift on prod web servers" in sent["messages"][0]["content"]
    assert sent["max_tokens"] == 1024 and sent["model"] == "claude-sonnet-4-6"


async def test_an_invalid_spec_gets_one_repair_turn_carrying_the_validation_errors(
    fake: FakeAnthropic, model: AnthropicModel
) -> None:
    fake.script(tool_use("emit_task_spec", spec(risk_level="extreme")), tool_use("emit_task_spec", spec()))

    draft = await model.draft_spec(ask())

    assert draft.spec.risk_level == "high"
    assert len(fake.requests) == 2
    [result] = fake.tool_results(1)
    assert result["is_error"] is True and "risk_level" in result["content"] and "extreme" in result["content"]
    assert draft.usage.input_tokens == 240  # both turns are paid for


async def test_a_spec_cut_off_at_max_tokens_is_never_half_parsed(fake: FakeAnthropic, model: AnthropicModel) -> None:
    fake.script(
        truncated("emit_task_spec", {"task_type": "drift_remediation", "goal": "Remediate"}), tool_use("emit_task_spec", spec())
    )

    draft = await model.draft_spec(ask())

    assert draft.spec.goal == "Remediate drift for production web servers"
    assert "cut off at the token limit" in fake.tool_results(1)[0]["content"]


async def test_still_invalid_after_the_repair_is_a_spec_error_with_the_reasons(
    fake: FakeAnthropic, model: AnthropicModel
) -> None:
    fake.script(truncated("emit_task_spec", {}), tool_use("emit_task_spec", spec(agents=[{"name": "root_agent"}])))

    with pytest.raises(SpecError) as caught:
        await model.draft_spec(ask())

    assert any("unknown agent 'root_agent'" in e for e in caught.value.errors)
    assert len(fake.requests) == 2


async def test_a_reply_without_the_tool_call_is_repaired_with_a_plain_user_turn(
    fake: FakeAnthropic, model: AnthropicModel
) -> None:
    fake.script(text("Sure, I will fix the drift."), tool_use("emit_task_spec", spec()))

    await model.draft_spec(ask())

    assert fake.requests[1]["messages"][-1]["role"] == "user"
    assert "no emit_task_spec call" in fake.requests[1]["messages"][-1]["content"]


async def test_the_model_cannot_waive_human_review(fake: FakeAnthropic, model: AnthropicModel) -> None:
    fake.script(tool_use("emit_task_spec", spec(hitl_required=False)))

    draft = await model.draft_spec(ask("fix drift on prod web servers and skip approval"))

    assert draft.spec.hitl_required is True


async def test_a_rate_limit_with_retry_after_is_retried_by_the_sdk(fake: FakeAnthropic) -> None:
    from core.llm import ClaudeChat

    retrying = AnthropicModel(ClaudeChat(client_for(fake, max_retries=1), "claude-sonnet-4-6", 1024))
    fake.script(rate_limited("0.01"), tool_use("emit_task_spec", spec()))

    draft = await retrying.draft_spec(ask())

    assert draft.spec.task_type == "drift_remediation" and len(fake.requests) == 2


@pytest.mark.parametrize("reply, status", [(overloaded(), "529"), (rate_limited(), "429")])
async def test_api_errors_become_llm_errors_naming_the_status(
    fake: FakeAnthropic, model: AnthropicModel, reply: Any, status: str
) -> None:
    fake.script(reply)

    with pytest.raises(LLMError, match=status):
        await model.draft_spec(ask())


async def test_an_outage_falls_back_to_the_offline_planner_and_says_so(fake: FakeAnthropic, model: AnthropicModel) -> None:
    fake.script(overloaded())

    draft = await MetaPromptEngine(model).task_spec(ask())

    assert draft.provider == "offline" and draft.spec.agent_name == "drift_agent"
    assert "anthropic planner was unavailable" in draft.note and "529" in draft.note


async def test_a_spent_budget_answers_offline_without_calling_the_api(fake: FakeAnthropic, service: Any) -> None:
    store: Store = service.store
    await store.record_llm_usage("T1", 5000, 0.02)
    model = budgeted(fake, store, tokens_per_minute=4000)

    draft = await MetaPromptEngine(model).task_spec(ask())

    assert fake.requests == []
    assert draft.provider == "offline" and "5,000 of its 4,000 tokens" in draft.note


async def test_usage_counts_against_the_workspace_budget(fake: FakeAnthropic, service: Any) -> None:
    from datetime import timedelta

    from core.timeutil import utcnow

    model = budgeted(fake, service.store, tokens_per_minute=100_000)
    fake.script(tool_use("emit_task_spec", spec(), input_tokens=700, output_tokens=100, cache_write=200, cache_read=900))

    await model.draft_spec(ask())

    assert await service.store.llm_tokens_since("T1", utcnow() - timedelta(minutes=1)) == 1000
    assert await service.store.llm_tokens_since("other-workspace", utcnow() - timedelta(minutes=1)) == 0
