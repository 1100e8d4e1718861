"""With an Anthropic key the model decides: the offline reading rides along as a hint (and the person's pick when
there was one), and answers when the model fails."""

from __future__ import annotations

import json
from dataclasses import replace

from core.intents.reader import default_reader
from core.llm import AnthropicModel, MetaPromptEngine, SpecRequest
from tests.fakes.anthropic_server import FakeAnthropic, overloaded, tool_use, truncated

AGENTS = tuple(
    {"name": name, "task_types": [task], "description": name, "tools": ["query_logs"]}
    for name, task in (("incident_agent", "incident_investigation"), ("cost_agent", "cost_optimization"))
)
TOOLS = ({"name": "query_logs", "description": "read logs", "risk": "read"},)
ASK = "why did the payments service go down last night"


def request(text: str = ASK, **extra: object) -> SpecRequest:
    base = SpecRequest(text=text, user_id="U1", channel_id="C1", agents=AGENTS, tools=TOOLS, reading=default_reader().read(text))
    return replace(base, **extra)  # type: ignore[arg-type]


def context_of(fake: FakeAnthropic) -> dict:
    content = fake.requests[0]["messages"][0]["content"]
    return json.loads(content.split("\n", 1)[0].removeprefix("Request context: "))


SPEC = {
    "task_type": "incident_investigation",
    "goal": "Investigate payments in production",
    "context": {"environment": "production", "parameters": {"service": "payments"}},
    "agents": [{"name": "incident_agent", "priority": 1}],
    "tools_required": ["query_logs"],
    "risk_level": "low",
    "hitl_required": True,
}


async def test_the_offline_reading_is_passed_to_the_model_as_a_hint(fake: FakeAnthropic, model: AnthropicModel) -> None:
    fake.script(tool_use("emit_task_spec", SPEC))

    draft = await model.draft_spec(request())

    hint = context_of(fake)["offline_reading"]
    assert hint["agent"] == "incident_agent" and hint["entities"]["services"] == ["payments"]
    assert hint["entities"]["time_range"]["text"] == "last night"
    assert "person_chose_agent" not in context_of(fake)
    assert draft.provider == "anthropic"


async def test_the_reading_a_person_picked_is_passed_too(fake: FakeAnthropic, model: AnthropicModel) -> None:
    fake.script(tool_use("emit_task_spec", SPEC))

    await model.draft_spec(request("payments outage cost", agent="cost_agent"))

    assert context_of(fake)["person_chose_agent"] == "cost_agent"


async def test_when_the_model_fails_the_offline_reading_answers_and_the_note_says_which_planner(
    fake: FakeAnthropic, model: AnthropicModel
) -> None:
    fake.script(overloaded())

    draft = await MetaPromptEngine(model).task_spec(request())

    assert draft.provider == "offline" and draft.spec.agent_name == "incident_agent"
    assert draft.spec.context.parameters["service"] == "payments"
    assert "anthropic planner was unavailable" in (draft.note or "")


async def test_a_model_that_never_gives_a_valid_spec_also_falls_back(fake: FakeAnthropic, model: AnthropicModel) -> None:
    fake.script(truncated("emit_task_spec", {}), tool_use("emit_task_spec", {**SPEC, "agents": [{"name": "root_agent"}]}))

    draft = await MetaPromptEngine(model).task_spec(request())

    assert draft.provider == "offline" and "gave no valid TaskSpec" in (draft.note or "")
