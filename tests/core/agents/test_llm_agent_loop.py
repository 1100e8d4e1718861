"""With Claude configured, the model reviews each agent's draft through tool use; scope stays with the tools."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from core.intake import Ask
from core.service import OpsPilot
from tests.fakes.anthropic_server import FakeAnthropic, overloaded, tool_use

DRIFT_SPEC = {
    "task_type": "drift_remediation",
    "goal": "Remediate drift for production web servers",
    "context": {"environment": "production", "scope": {"roles": ["web-server"]}},
    "agents": [{"name": "drift_agent", "priority": 1}],
    "tools_required": ["query_assets", "compare_versions"],
    "risk_level": "high",
    "hitl_required": True,
}


def review(summary: str, **extra: Any) -> Any:
    return tool_use("submit_review", {"summary": summary, "risk_assessment": "High: production web tier", **extra})


async def test_the_model_writes_the_summary_while_phases_and_changes_come_from_the_tools(
    claude_service: OpsPilot,
    fake: FakeAnthropic,
) -> None:
    fake.script(
        tool_use("emit_task_spec", DRIFT_SPEC),
        tool_use("query_assets", {"environment": "production", "roles": ["web-server"], "regions": ["us-west-2"]}),
        review(
            "14 web servers lag the golden image; us-west-2 is the smaller blast radius.",
            findings=[
                {"title": "Oldest version 2.2.7", "severity": "medium", "assets": ["web-prod-002", "db-prod-001"]},
            ],
        ),
    )

    outcome = await claude_service.submit(Ask(text="fix drift on prod web servers", user_id="U1"))

    plan = outcome.plan
    assert plan.payload.summary == "14 web servers lag the golden image; us-west-2 is the smaller blast radius."
    assert plan.payload.risk_assessment == "High: production web tier"
    assert len(plan.payload.changes) == 14 and {c.action for c in plan.payload.changes} == {"set_image_version"}
    assert plan.payload.phases[0].name == "Canary"
    [finding] = plan.payload.findings
    assert finding.assets == ["web-prod-002"]  # db-prod-001 is outside what the tools returned
    assert plan.state == "awaiting_approval"
    offered = {t["name"] for t in fake.requests[1]["tools"]}
    assert offered == {"query_assets", "compare_versions", "generate_patch_plan", "submit_review"}
    assert '"count": 6' in fake.tool_results(2)[0]["content"]
    assert outcome.usage.provider == "anthropic" and outcome.usage.input_tokens == 3 * 120
    assert (await claude_service.get_task(outcome.task.id)).usage.input_tokens == 3 * 120


async def test_a_write_tool_asked_for_by_the_model_is_refused_and_logged(
    claude_service: OpsPilot,
    fake: FakeAnthropic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.script(
        tool_use("emit_task_spec", {**DRIFT_SPEC}),
        tool_use("execute_sop", {"steps": [{"name": "wipe", "command": "rm -rf /"}], "environment": "production"}),
        review("Drift plan for production web servers."),
    )

    with caplog.at_level(logging.WARNING, logger="core.agents.llm_loop"):
        outcome = await claude_service.submit(Ask(text="fix drift on prod web servers", user_id="U1"))

    [refusal] = fake.tool_results(2)
    assert refusal["is_error"] is True and "write-class" in refusal["content"] and "after human approval" in refusal["content"]
    assert "model asked for write tool execute_sop; refused" in caplog.text
    assert outcome.plan.state == "awaiting_approval" and outcome.plan.approval is None


async def test_at_the_step_bound_the_draft_stands_with_a_note(anthropic_config: Any, fake: FakeAnthropic) -> None:
    anthropic_config.llm.max_agent_steps = 2
    service = await OpsPilot.create(anthropic_config)
    fake.script(
        tool_use("emit_task_spec", DRIFT_SPEC),
        tool_use("query_assets", {"environment": "production"}),
        tool_use("query_assets", {"environment": "staging"}),
    )
    try:
        outcome = await service.submit(Ask(text="fix drift on prod web servers", user_id="U1"))
    finally:
        await service.close()

    assert outcome.kind == "plan"
    assert outcome.plan.payload.summary.startswith("Remediate 14 drifted of 24 assets")
    assert "stopped after 2 steps" in outcome.note
    assert fake.requests[2]["tool_choice"] == {"type": "tool", "name": "submit_review"}


async def test_an_outage_during_the_review_keeps_the_tool_plan_and_says_so(claude_service: OpsPilot, fake: FakeAnthropic) -> None:
    fake.script(tool_use("emit_task_spec", DRIFT_SPEC), overloaded(), overloaded(), overloaded())

    outcome = await claude_service.submit(Ask(text="fix drift on prod web servers", user_id="U1"))

    assert outcome.plan.state == "awaiting_approval"
    assert "review was skipped" in outcome.note and "529" in outcome.note


async def test_an_outage_while_reading_the_ask_falls_back_offline_and_the_outcome_says_so(
    claude_service: OpsPilot,
    fake: FakeAnthropic,
) -> None:
    fake.script(*[overloaded()] * 6)

    outcome = await claude_service.submit(Ask(text="where can we cut cost", user_id="U1"))

    assert outcome.plan.type == "cost_report" and outcome.plan.payload.report_only
    assert "the offline planner answered" in outcome.note
