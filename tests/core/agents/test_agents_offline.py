"""Every agent answers its example ask offline with a plan that validates and goes to the right place."""

from __future__ import annotations

import pytest

from core.agents import all_agents
from core.intake import Ask
from core.llm.offline import EXAMPLE_ASKS
from core.schemas import errors_for
from core.service import OpsPilot

# ask -> (plan type, agent, report only, what the payload must carry)
EXPECTED = {
    EXAMPLE_ASKS[0]: ("drift_plan", "drift_agent", False, "changes"),
    EXAMPLE_ASKS[1]: ("patch_plan", "patch_agent", False, "changes"),
    EXAMPLE_ASKS[2]: ("compliance_report", "compliance_agent", True, "findings"),
    EXAMPLE_ASKS[3]: ("incident_report", "incident_agent", True, "findings"),
    EXAMPLE_ASKS[4]: ("dr_runbook", "dr_agent", False, "steps"),
    EXAMPLE_ASKS[5]: ("cost_report", "cost_agent", True, "findings"),
    EXAMPLE_ASKS[6]: ("security_report", "security_agent", True, "findings"),
    EXAMPLE_ASKS[7]: ("image_plan", "image_agent", False, "steps"),
    EXAMPLE_ASKS[8]: ("sop", "sop_agent", False, "steps"),
    EXAMPLE_ASKS[9]: ("adapter_plan", "adapter_agent", False, "steps"),
}


def test_ten_agents_with_names_titles_descriptions_and_tools() -> None:
    agents = all_agents()

    assert len({a.name for a in agents}) == 10
    for agent in agents:
        assert agent.title and agent.description and agent.tools and agent.task_types


@pytest.mark.parametrize("ask", EXAMPLE_ASKS)
async def test_each_example_ask_yields_a_valid_plan_reports_skip_approval(service: OpsPilot, ask: str) -> None:
    plan_type, agent, report_only, carries = EXPECTED[ask]

    outcome = await service.submit(Ask(text=ask, user_id="U0REQUESTER"))

    assert outcome.kind == "plan", outcome.message
    plan = outcome.plan
    assert (plan.type, plan.agent, plan.payload.report_only) == (plan_type, agent, report_only)
    assert errors_for("plan", plan.to_document()) == []
    assert getattr(plan.payload, carries), f"{plan_type} has no {carries}"
    assert plan.validation.overall_valid, plan.validation.errors
    assert plan.state == ("validated" if report_only else "awaiting_approval")
    assert outcome.usage.provider == "offline"
    # The only note an example gets: a read-only report that named no environment says which one it assumed.
    assert outcome.note is None or outcome.note.startswith("No environment named:"), outcome.note


async def test_patch_plan_rolls_the_fix_out_canary_first_with_apply_patch_changes(service: OpsPilot) -> None:
    plan = (await service.submit(Ask(text="patch CVE-2024-3094 on staging db servers", user_id="U1"))).plan

    assert plan.payload.affected_assets == ["db-stg-003", "db-stg-001"]  # lowest risk first; db-stg-001 is public
    assert plan.payload.phases[0].name == "Canary" and plan.payload.phases[0].assets == ["db-stg-003"]
    assert {(c.action, c.to_version) for c in plan.payload.changes} == {("apply_patch", "15.6.0")}
    assert plan.payload.changes[0].details["cves"] == ["CVE-2024-3094"]


async def test_compliance_proposes_a_phased_fix_only_when_asked_to_remediate(service: OpsPilot) -> None:
    plan = (await service.submit(Ask(text="remediate CIS 5.2 in prod", user_id="U1"))).plan

    assert plan.payload.report_only is False and plan.state == "awaiting_approval"
    assert {c.action for c in plan.payload.changes} == {"remediate_controls"}
    assert sorted(plan.payload.affected_assets) == ["api-prod-009", "web-prod-002", "web-prod-018"]


async def test_incident_report_names_the_likely_cause_and_the_fix(service: OpsPilot) -> None:
    plan = (await service.submit(Ask(text="why is checkout erroring", user_id="U1"))).plan

    cause = next(f for f in plan.payload.findings if f.title.startswith("Likely cause"))
    assert "checkout v2.14.0" in cause.title and cause.recommendation.startswith("roll back checkout")
    assert any(f.title.startswith("Dependency postgres") for f in plan.payload.findings)


async def test_dr_runbook_confirms_every_traffic_move_and_flags_the_single_region_cache(service: OpsPilot) -> None:
    plan = (await service.submit(Ask(text="plan a DR drill for us-east-1", user_id="U1"))).plan

    moves = [s for s in plan.payload.steps if s.command and ("failover" in s.command or "failback" in s.command)]
    assert moves and all(s.requires_confirmation for s in moves)
    assert any(f.severity == "critical" and f.title.startswith("redis") for f in plan.payload.findings)


async def test_cost_report_findings_carry_dollar_savings(service: OpsPilot) -> None:
    plan = (await service.submit(Ask(text="where can we cut cost", user_id="U1"))).plan

    assert plan.payload.summary.startswith("Save about $")
    assert all("$" in f.title for f in plan.payload.findings)


async def test_image_plan_builds_validates_then_promotes_with_evidence(service: OpsPilot) -> None:
    plan = (await service.submit(Ask(text="build a new golden image for ubuntu-base", user_id="U1"))).plan

    assert [s.name for s in plan.payload.steps] == ["build", "validate", "scan", "promote"]
    build, promote = plan.payload.changes
    assert (build.action, promote.action, promote.to_version) == ("build", "promote", "2.4.2")
    assert promote.details["validation"] == "passed" and promote.details["target_environment"] == "staging"


async def test_an_unknown_api_is_a_clear_no_change_answer(service: OpsPilot) -> None:
    outcome = await service.submit(Ask(text="integrate the Frobnicator API", user_id="U1"))

    assert outcome.kind == "no_change" and "known APIs: datadog, pagerduty, statuspage" in outcome.message
