"""OpsPilot.act_on_finding: a report's finding becomes its action's ask, recorded like a typed one; anything else
records nothing and says why."""

from __future__ import annotations

import asyncio

from core.approvals.rules import RequesterRule
from core.config import Config
from core.intake import Ask
from core.report_actions import finding_fingerprint
from core.service import OpsPilot

ORIGIN = {"front": "slack", "via": "report_action", "channel": "C0OPS", "user": "U0REQUESTER"}


async def _asks(service: OpsPilot) -> int:
    return sum((await service.asks.counts()).values())


async def test_a_findings_action_is_recorded_as_an_ask_pinned_to_its_agent_and_linked_to_the_report(service: OpsPilot) -> None:
    plan = (await service.submit(Ask(text="are we compliant with CIS 5.2 in prod", user_id="U0REQUESTER"))).plan
    assert plan is not None
    index = next(i for i, f in enumerate(plan.payload.findings) if f.action is not None)
    finding = plan.payload.findings[index]

    outcome = await service.act_on_finding(
        plan.id, index, "U0REQUESTER", ORIGIN, channel_id="C0OPS", seen=finding_fingerprint(finding)
    )

    assert outcome.recorded and outcome.ask_id is not None
    recorded = await service.asks.get(outcome.ask_id)
    assert recorded is not None
    assert recorded.ask.text == "remediate CIS-5.2 in production" and recorded.ask.agent == "compliance_agent"
    assert recorded.ask.origin["from_report"] == plan.id and recorded.ask.origin["finding"] == index
    audit = [e for e in await service.store.audit_entries([plan.id]) if e.event == "report.finding_acted"]
    assert len(audit) == 1 and audit[0].actor == "U0REQUESTER" and audit[0].details["ask_id"] == outcome.ask_id


async def test_bad_clicks_record_nothing_and_say_why(service: OpsPilot) -> None:
    report = (await service.submit(Ask(text="are we compliant with CIS 5.2 in prod", user_id="U0REQUESTER"))).plan
    change = (await service.submit(Ask(text="patch CVE-2024-3094 on staging db servers", user_id="U0REQUESTER"))).plan
    assert report is not None and change is not None
    actionable = next(i for i, f in enumerate(report.payload.findings) if f.action is not None)
    inert = next(i for i, f in enumerate(report.payload.findings) if f.action is None)
    before = await _asks(service)

    cases = [
        (("no-such-plan", 0), {}, "not_found"),
        ((change.id, 0), {}, "not_a_report"),
        ((report.id, len(report.payload.findings)), {}, "out_of_range"),
        ((report.id, -1), {}, "out_of_range"),
        ((report.id, inert), {}, "no_action"),
        ((report.id, actionable), {"seen": "0123456789ab"}, "stale"),
    ]
    for (plan_id, index), options, status in cases:
        outcome = await service.act_on_finding(plan_id, index, "U0REQUESTER", ORIGIN, **options)
        assert outcome.status == status and not outcome.recorded and outcome.message

    assert await _asks(service) == before


async def test_the_requesters_rules_decide_a_findings_ask_as_they_decide_a_typed_one(config: Config) -> None:
    config.requesters = [RequesterRule.model_validate({"match": {"environment": "production"}, "users": ["U0REQUESTER"]})]
    service = await OpsPilot.create(config)
    await service.start()
    try:
        plan = (await service.submit(Ask(text="are we compliant with CIS 5.2 in prod", user_id="U0REQUESTER"))).plan
        assert plan is not None
        index = next(i for i, f in enumerate(plan.payload.findings) if f.action is not None)
        tasks_before = len(await service.store.recent_tasks())

        outcome = await service.act_on_finding(plan.id, index, "U0OUTSIDER", {**ORIGIN, "user": "U0OUTSIDER"})

        assert outcome.recorded and outcome.ask_id is not None
        deadline = asyncio.get_running_loop().time() + 20
        while (recorded := await service.asks.get(outcome.ask_id)) is not None and recorded.state == "pending":
            assert asyncio.get_running_loop().time() < deadline, "the ask was never handled"
            await asyncio.sleep(0.05)
        assert len(await service.store.recent_tasks()) == tasks_before  # refused when read: no task, no plan

        allowed = await service.act_on_finding(plan.id, index, "U0REQUESTER", ORIGIN)
        assert allowed.ask_id is not None
        while (recorded := await service.asks.get(allowed.ask_id)) is not None and recorded.state == "pending":
            assert asyncio.get_running_loop().time() < deadline + 20, "the ask was never handled"
            await asyncio.sleep(0.05)
        assert len(await service.store.recent_tasks()) == tasks_before + 1  # a requester's click is planned
    finally:
        await service.close()
