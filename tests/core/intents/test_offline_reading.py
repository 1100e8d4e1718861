"""The offline planner on top of the intent model: unclear asks offer their likeliest readings (and a pick goes on as
if the ask had said it), asks about other things say what OpsPilot does, reports say which environment they assumed,
changes never guess one, and the entities scope the spec."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.config import Config
from core.intake import Ask
from core.llm.offline import EXAMPLE_ASKS
from core.service import OpsPilot

UNCLEAR = "payments outage cost"


@pytest.fixture
async def strict(config: Config) -> AsyncIterator[OpsPilot]:
    """A service that asks back unless it is very sure (intents.min_confidence: 0.95)."""
    config.intents.min_confidence = 0.95
    service = await OpsPilot.create(config)
    try:
        yield service
    finally:
        await service.close()


async def test_an_unclear_ask_offers_its_likeliest_readings_and_creates_nothing(strict: OpsPilot) -> None:
    outcome = await strict.submit(Ask(text=UNCLEAR, user_id="U0REQUESTER"))

    assert outcome.kind == "invalid" and outcome.task is None
    assert 2 <= len(outcome.choices) <= 3
    assert {c.agent for c in outcome.choices[:2]} == {"incident_agent", "cost_agent"}
    labels = {c.agent: c.label for c in outcome.choices}
    assert labels["incident_agent"] == "Investigate an incident on payments (production)?"
    assert labels["cost_agent"] == "Review cost (all environments)?"
    assert outcome.intent is not None and outcome.intent.agent in labels
    assert await strict.store.recent_tasks() == []


async def test_picking_a_reading_goes_on_as_if_the_ask_had_said_it(strict: OpsPilot) -> None:
    outcome = await strict.submit(Ask(text=UNCLEAR, user_id="U0REQUESTER", agent="cost_agent"))

    assert outcome.kind == "plan" and outcome.spec.agent_name == "cost_agent"
    assert outcome.task.user_intent == UNCLEAR


async def test_an_unknown_agent_cannot_be_picked(strict: OpsPilot) -> None:
    outcome = await strict.submit(Ask(text=UNCLEAR, user_id="U0REQUESTER", agent="root_agent"))

    assert outcome.kind == "invalid" and "No agent named 'root_agent'" in outcome.message


@pytest.mark.parametrize("text", ["order pizza for the team", "write a poem about kubernetes", "what's the weather"])
async def test_an_ask_about_something_else_says_so_and_lists_what_opspilot_can_do(service: OpsPilot, text: str) -> None:
    outcome = await service.submit(Ask(text=text, user_id="U0REQUESTER"))

    assert outcome.kind == "invalid" and not outcome.choices
    assert "can't map that to anything OpsPilot does" in outcome.message
    assert all(f"`{example}`" in outcome.message for example in EXAMPLE_ASKS)
    assert outcome.intent is not None and outcome.intent.agent == "none"
    assert await service.store.recent_tasks() == []


@pytest.mark.parametrize(
    "text, environment, note",
    [
        ("where is our cloud money going", "all", "No environment named: all environments assumed"),
        ("are the servers hardened to CIS", "all", "No environment named: all environments assumed"),
        ("what broke on checkout", "production", "No environment named: production assumed"),
    ],
)
async def test_a_read_only_report_defaults_its_environment_and_says_so(
    service: OpsPilot, text: str, environment: str, note: str
) -> None:
    outcome = await service.dry_run(Ask(text=text, user_id="U0REQUESTER"))

    assert outcome.spec is not None and outcome.spec.environment == environment
    assert note in (outcome.note or "")


@pytest.mark.parametrize(
    "text", ["bring the web servers back to golden", "roll out the openssh fix to the db tier", "remediate CIS 5.2"]
)
async def test_a_change_never_guesses_its_environment(service: OpsPilot, text: str) -> None:
    outcome = await service.dry_run(Ask(text=text, user_id="U0REQUESTER"))

    assert outcome.kind == "invalid" and outcome.message.startswith("Which environment?")


async def test_a_named_service_scopes_a_change_to_its_assets_in_that_environment(service: OpsPilot) -> None:
    outcome = await service.dry_run(Ask(text="bring the payments boxes in prod back to golden", user_id="U0REQUESTER"))

    scope = outcome.spec.context.scope
    assert outcome.spec.agent_name == "drift_agent"
    assert scope.services == ["payments"] and scope.asset_ids == ["api-prod-009", "api-prod-010", "api-prod-011", "api-prod-012"]
    assert set(outcome.plan.payload.affected_assets) <= set(scope.asset_ids)


async def test_a_service_with_no_assets_in_the_environment_is_refused_rather_than_widened(service: OpsPilot) -> None:
    outcome = await service.dry_run(Ask(text="fix drift on payments in staging", user_id="U0REQUESTER"))

    assert outcome.kind == "invalid" and "no payments assets in staging" in outcome.message


async def test_the_incident_agent_reads_the_logs_of_the_time_window_named(service: OpsPilot) -> None:
    # The sample logs are from 2024-06-11; the window of "last night" (now) has none: the report says so and shows
    # the latest errors instead.
    outcome = await service.dry_run(Ask(text="why did checkout go down last night", user_id="U0REQUESTER"))

    params = outcome.spec.context.parameters
    assert params["service"] == "checkout" and params["time_range"] == "last night"
    assert params["since"] < params["until"]
    assert outcome.plan.payload.summary.startswith("Nothing logged last night (")


async def test_query_logs_keeps_the_lines_inside_the_window(service: OpsPilot) -> None:
    from core.tools import ToolContext

    context: ToolContext = service.tool_context
    tool = service.tools.get("query_logs")
    inside = await service.tools.call(
        tool.name,
        {"services": ["checkout"], "min_level": "debug", "since": "2024-06-11T14:00:00Z", "until": "2024-06-11T14:05:00Z"},
        context,
    )
    everything = await service.tools.call(tool.name, {"services": ["checkout"], "min_level": "debug"}, context)

    assert 0 < inside["count"] < everything["count"]
    assert all("2024-06-11T14:00:00Z" <= e["at"] <= "2024-06-11T14:05:00Z" for e in inside["entries"])
