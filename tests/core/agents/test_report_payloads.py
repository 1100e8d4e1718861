"""Report agents say what they looked at (window, sources), show what they saw (evidence), and give a finding an
action only when an agent can plan its change: the action's ask, read offline, becomes a plan of the right kind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from core.domain import Plan
from core.intake import Ask
from core.paths import SAMPLE_DATA_DIR
from core.report_actions import agent_for
from core.schemas import errors_for
from core.service import OpsPilot
from core.sources.memory import StaticSource

SAMPLE = SAMPLE_DATA_DIR


async def report(service: OpsPilot, text: str) -> Plan:
    outcome = await service.submit(Ask(text=text, user_id="U0REQUESTER"))
    assert outcome.kind == "plan" and outcome.plan is not None, outcome.message
    plan = outcome.plan
    assert plan.is_report and errors_for("plan", plan.to_document()) == []
    assert plan.payload.report is not None
    return plan


async def test_security_report_names_its_sources_and_scan_time_and_only_cves_have_a_patch_action(service: OpsPilot) -> None:
    before = datetime.now(UTC)
    plan = await report(service, "scan prod for exposed ports and vulnerabilities")
    scope = plan.payload.report

    assert scope.window_end is not None and before <= scope.window_end <= datetime.now(UTC)
    assert any("CVE feed" in s for s in scope.sources) and any("open ports" in s for s in scope.sources)
    cves = [f for f in plan.payload.findings if f.title.startswith("CVE-")]
    ports = [f for f in plan.payload.findings if "open to the internet" in f.title]
    assert cves and ports
    for finding in cves:
        assert finding.action is not None and finding.action.kind == "patch"
        assert finding.action.ask == f"patch {finding.title.split(':')[0]} on production"
        assert finding.evidence and all("fixed in" in line for line in finding.evidence)
        assert finding.value is not None  # CVSS
    xz = next(f for f in cves if f.title.startswith("CVE-2024-3094"))
    assert "web-prod-002: ubuntu-base 2.2.7 (fixed in 2.4.1)" in xz.evidence
    for finding in ports:  # nothing plans firewall changes: no button
        assert finding.action is None
        assert finding.evidence and "internet-facing" in finding.evidence[0]


async def test_cost_report_covers_the_billing_month_with_bill_lines_as_evidence_and_no_actions(service: OpsPilot) -> None:
    plan = await report(service, "where can we cut cost")
    scope = plan.payload.report

    assert (scope.window_start, scope.window_end) == (
        datetime(2024, 6, 1, tzinfo=UTC),
        datetime(2024, 7, 1, tzinfo=UTC),
    )
    assert scope.sources[0].startswith("cloud bill 2024-06 (13 lines")
    savings = [f for f in plan.payload.findings if "save" in f.title]
    assert savings and all(f.action is None for f in plan.payload.findings)
    rightsize = next(f for f in savings if f.title.startswith("Rightsize web-prod-fleet-use1"))
    assert rightsize.value == pytest.approx(1962.24)  # USD saved per month, as the title says
    assert rightsize.evidence == ["web-prod-fleet-use1 ec2 m5.2xlarge on_demand: $3,924/month, CPU 11%, 720h running"]


async def test_compliance_report_shows_observed_values_and_automated_fixes_become_remediation_asks(service: OpsPilot) -> None:
    plan = await report(service, "are we compliant with CIS 5.2 in prod")
    scope = plan.payload.report

    assert scope.window_end is not None
    assert scope.sources[0] == "2 controls (CIS-5.2)" and "46 assets in production" in scope.sources[1]
    root = next(f for f in plan.payload.findings if f.title.startswith("CIS-5.2 "))
    assert "web-prod-002: ssh.permit_root_login = 'yes'" in root.evidence
    assert root.action is not None and (root.action.kind, root.action.ask) == ("drift_fix", "remediate CIS-5.2 in production")
    evidence_record = next(f for f in plan.payload.findings if f.title.startswith("Evidence "))
    assert evidence_record.action is None


async def test_incident_report_window_timeline_and_events_come_from_the_logs(service: OpsPilot) -> None:
    plan = await report(service, "why is checkout erroring")
    scope = plan.payload.report
    logs = yaml.safe_load((SAMPLE / "logs.yaml").read_text())

    # The window runs from the earliest correlated change (postgres config 13:20) to the last log line examined.
    assert scope.window_start == datetime(2024, 6, 11, 13, 20, tzinfo=UTC)
    assert scope.window_end == datetime(2024, 6, 11, 14, 4, 51, tzinfo=UTC)
    assert 5 <= len(scope.timeline) <= 24
    widths = {(b.at - a.at).total_seconds() for a, b in zip(scope.timeline, scope.timeline[1:], strict=False)}
    assert len(widths) == 1  # evenly spaced, empty buckets included
    examined = {"checkout", "postgres", "payments", "redis"}
    in_window = [
        e
        for e in logs["logs"]
        if e["service"] in examined
        and e["environment"] == "production"
        and e["level"] in ("warn", "error")
        and scope.window_start <= datetime.fromisoformat(e["at"].replace("Z", "+00:00")) <= scope.window_end
    ]
    assert sum(b.errors for b in scope.timeline) == sum(e["level"] == "error" for e in in_window) == 8
    assert sum(b.warnings for b in scope.timeline) == sum(e["level"] == "warn" for e in in_window) == 3
    assert [(e.kind, e.service, e.at) for e in scope.events] == [
        ("config_change", "postgres", datetime(2024, 6, 11, 13, 20, tzinfo=UTC)),
        ("deploy", "checkout", datetime(2024, 6, 11, 13, 49, 30, tzinfo=UTC)),
    ]  # the alert is a symptom, not a change
    assert any(s.startswith("logs of checkout, postgres") for s in scope.sources)
    errors = plan.payload.findings[0]
    assert errors.value == 6 and errors.evidence and "timeout acquiring db connection" in errors.evidence[0]
    # "roll back checkout to v2.13.2": no agent deploys application versions, so no button.
    assert all(f.action is None for f in plan.payload.findings)


def _logs_with(event: dict[str, Any]) -> StaticSource:
    logs = yaml.safe_load((SAMPLE / "logs.yaml").read_text())
    logs["events"] = [e for e in logs["events"] if e["service"] != "checkout" or e["kind"] != "deploy"] + [event]
    return StaticSource("logs", logs)


async def test_an_incident_caused_by_an_image_deploy_offers_the_newer_image_rollout(service: OpsPilot) -> None:
    service.tool_context.sources["logs"] = _logs_with(
        {
            "at": "2024-06-11T13:55:00Z",
            "kind": "deploy",
            "service": "checkout",
            "environment": "production",
            "detail": "ubuntu-base 2.4.1 rolled out to the checkout api servers (new glibc)",
            "hint": "roll out ubuntu-base 2.4.2, which carries the glibc fix",
        }
    )
    plan = await report(service, "why is checkout erroring")

    cause = next(f for f in plan.payload.findings if f.title.startswith("Likely cause"))
    assert cause.action is not None
    assert (cause.action.kind, cause.action.ask) == ("image_rollout", "build and promote ubuntu-base 2.4.2 to production")


async def test_an_incident_whose_fix_is_an_sop_offers_that_sop(service: OpsPilot) -> None:
    service.tool_context.sources["logs"] = _logs_with(
        {
            "at": "2024-06-11T13:55:00Z",
            "kind": "config_change",
            "service": "checkout",
            "environment": "production",
            "detail": "TLS certificates of the checkout load balancer expired",
            "hint": "rotate the expired TLS certificates",
        }
    )
    plan = await report(service, "why is checkout erroring")

    cause = next(f for f in plan.payload.findings if f.title.startswith("Likely cause"))
    assert cause.action is not None
    assert (cause.action.kind, cause.action.ask) == (
        "sop_step",
        "write an SOP to rotate the expired TLS certificates in production",
    )


ROUTES = [
    ("security_report", "patch", "patch CVE-2024-3094 on production", "patch_plan"),
    ("compliance_report", "drift_fix", "remediate CIS-5.2 in production", "compliance_report"),
    ("incident_report", "image_rollout", "build and promote ubuntu-base 2.4.2 to production", "image_plan"),
    ("incident_report", "sop_step", "write an SOP to rotate the expired TLS certificates in production", "sop"),
]


@pytest.mark.parametrize(("report_type", "kind", "ask", "plan_type"), ROUTES)
async def test_each_action_ask_is_planned_as_a_change_of_the_expected_kind(
    service: OpsPilot, report_type: str, kind: Any, ask: str, plan_type: str
) -> None:
    """What the button records: the ask pinned to its kind's agent; and it reads the same without the pin."""
    for agent in (agent_for(report_type, kind), None):
        outcome = await service.dry_run(Ask(text=ask, user_id="U0REQUESTER", agent=agent))

        assert outcome.kind == "plan" and outcome.plan is not None, outcome.message
        assert outcome.plan.type == plan_type and not outcome.plan.is_report  # a change, to approve
        assert outcome.plan.environment == "production"
        assert outcome.plan.payload.changes or outcome.plan.payload.steps
