"""Both planners satisfy the same contract on the same asks: a schema-valid TaskSpec for the right agent,
human review always required, and usage reported by the provider that answered."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.agents import all_agents
from core.domain import TaskSpec
from core.llm import AnthropicModel, ClaudeChat, LanguageModel, OfflinePlanner, SpecRequest
from core.llm.offline import EXAMPLE_ASKS
from core.schemas import errors_for
from core.tools import default_registry
from tests.fakes.anthropic_server import FakeAnthropic, Reply, tool_use
from tests.fakes.claude import client_for

EXPECTED_AGENT = dict(
    zip(
        EXAMPLE_ASKS,
        [
            "drift_agent",
            "patch_agent",
            "compliance_agent",
            "incident_agent",
            "dr_agent",
            "cost_agent",
            "security_agent",
            "image_agent",
            "sop_agent",
            "adapter_agent",
        ],
        strict=True,
    )
)
AGENTS = tuple(a.describe() for a in all_agents())
TOOLS = tuple({"name": t.name, "description": t.description, "risk": t.risk} for t in default_registry().all())


async def model_brain(request: dict[str, Any]) -> Reply:
    """Plays the model: reads the ask out of the user turn and answers as a careful model would."""
    ask = re.search(r"<ask>\n(.*)\n</ask>", request["messages"][0]["content"], re.S).group(1)
    draft = await OfflinePlanner().draft_spec(SpecRequest(text=ask, user_id="U1"))
    return tool_use("emit_task_spec", draft.spec.to_document(), input_tokens=900, output_tokens=180, cache_read=1500)


@pytest.fixture(params=["offline", "anthropic"])
async def planner(request: pytest.FixtureRequest) -> AsyncIterator[LanguageModel]:
    if request.param == "offline":
        yield OfflinePlanner()
        return
    async with FakeAnthropic(responder=model_brain) as server:
        yield AnthropicModel(ClaudeChat(client_for(server), "claude-sonnet-4-6", 1024))


@pytest.mark.parametrize("ask", EXAMPLE_ASKS)
async def test_every_example_ask_becomes_a_valid_spec_for_its_agent(planner: LanguageModel, ask: str) -> None:
    draft = await planner.draft_spec(SpecRequest(text=ask, user_id="U1", agents=AGENTS, tools=TOOLS))

    assert isinstance(draft.spec, TaskSpec)
    assert errors_for("task-spec", draft.spec.to_document()) == []
    assert draft.spec.agent_name == EXPECTED_AGENT[ask]
    assert draft.spec.hitl_required is True
    assert draft.provider == planner.name
    assert set(draft.spec.tools_required) <= {t["name"] for t in TOOLS}


async def test_usage_is_zero_offline_and_counted_with_a_cost_on_anthropic(planner: LanguageModel) -> None:
    draft = await planner.draft_spec(SpecRequest(text=EXAMPLE_ASKS[1], user_id="U1", agents=AGENTS, tools=TOOLS))

    if planner.name == "offline":
        assert (draft.usage.input_tokens, draft.usage.output_tokens, draft.usage.cost_usd) == (0, 0, 0.0)
    else:
        assert (draft.usage.input_tokens, draft.usage.output_tokens, draft.usage.cache_read_tokens) == (900, 180, 1500)
        assert draft.usage.cost_usd == pytest.approx((900 * 3 + 180 * 15 + 1500 * 0.3) / 1e6)
        assert draft.usage.model == "claude-sonnet-4-6"
