"""Charts in Slack threads, end to end against the emulator: a cost report's card gets a savings chart in its thread,
a run's end a phase timeline, once each whatever the redeliveries; a chart that cannot be drawn or uploaded is
posted as text with the same numbers."""

from __future__ import annotations

import importlib

import aiohttp

from bot.charts.render import DPI, WIDTH_INCHES
from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER
from bot.playground.files import png_size
from bot.slack_charts import PART
from core.events import TaskPlanned
from core.intake import Ask
from core.outbox.base import Delivery
from core.outbox.envelope import to_cloud_event
from tests.bot.test_slack_delivery import replica, settled

render_module = importlib.import_module("bot.charts.render")

COST_ASK = "where can we cut cost"
DRIFT_ASK = "fix drift on staging web servers"


async def asked(world, text: str):
    """An ask from Slack, planned, its card posted; returns (plan, card ts)."""
    service = world.service
    outcome = await service.submit(Ask.from_front(text, REQUESTER, OPS_CHANNEL, front="slack", channel=OPS_CHANNEL))
    assert outcome.plan is not None, outcome.message
    await settled(service)
    ref = await service.queries.message_ref(outcome.plan.id)
    assert ref and ref.get("ts"), "the card was posted"
    return outcome.plan, ref["ts"]


def files_in(world, card_ts: str) -> list[dict]:
    return [f for m in world.emulator.thread(OPS_CHANNEL, card_ts) for f in m.raw.get("files", [])]


async def fetched(url: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        assert answer.status == 200
        return await answer.read()


async def test_a_cost_report_gets_its_savings_chart_in_the_cards_thread_once(world) -> None:
    emu, service = world.emulator, world.service
    plan, card_ts = await asked(world, COST_ASK)
    valued = [f for f in plan.payload.findings if f.value is not None and f.severity != "info"]
    assert valued, "the cost agent gives each recommendation its monthly saving (Finding.value)"

    [chart] = await emu.wait_for(lambda: files_in(world, card_ts))
    assert chart["name"] == f"cost-{plan.id}.png" and chart["mimetype"] == "image/png"
    total = sum(f.value for f in valued)
    assert chart["title"] == f"Savings per recommendation: ${total:,.0f}/month in total"
    for finding in valued:
        assert f"${finding.value:,.0f}/month" in chart["alt_txt"]
    assert chart["alt_txt"].endswith(f"total ${total:,.0f}/month")
    data = await fetched(chart["url_private"])
    assert png_size(data) is not None and png_size(data)[0] == WIDTH_INCHES * DPI
    assert (await service.queries.message_ref(plan.id))[f"chart:{plan.id}"] == chart["id"]

    # A redelivery of task.planned (a new replica, no memory; any attempt) uploads nothing more.
    event = to_cloud_event(
        TaskPlanned(task_id=plan.task_id, plan_id=plan.id, environment=None, agent="cost_agent", requires_approval=False)
    )
    uploads = len(emu.calls_to("files.completeUploadExternal"))
    await replica(world).deliver(Delivery(event=event, attempt=2))
    # Even when the ref lost the upload (a crash between the upload and its record), the thread shows the file.
    await service.queries.update_message_ref(plan.id, {f"chart:{plan.id}": None})
    result = await replica(world).deliver(Delivery(event=event, attempt=1, unfinished=True))
    assert (result or {}).get("posted", {}).get(PART), result
    assert len(emu.calls_to("files.completeUploadExternal")) == uploads
    assert len(files_in(world, card_ts)) == 1


async def test_a_finished_run_gets_its_phase_timeline_in_the_thread(world) -> None:
    emu, service = world.emulator, world.service
    plan, card_ts = await asked(world, DRIFT_ASK)
    assert not files_in(world, card_ts), "a change plan's card has no chart"
    await service.decide(plan.id, APPROVER_1, "approved")
    [chart] = await emu.wait_for(lambda: files_in(world, card_ts), timeout=30)
    await settled(service)
    [run] = await service.store.runs_for_plan(plan.id, with_assets=False)
    assert chart["name"] == f"phases-{run.id}.png"
    assert chart["title"].startswith(f"Phases of run {run.id[:8]}: completed in")
    for phase in plan.payload.phases:
        assert f"{phase.name} " in chart["alt_txt"]
    assert chart["alt_txt"].count("completed") == len(plan.payload.phases) + 1
    assert png_size(await fetched(chart["url_private"])) is not None
    thread = emu.thread(OPS_CHANNEL, card_ts)
    assert "Run completed" in thread[-2].text and thread[-1].raw["files"], "the chart follows the final message"


async def test_a_chart_that_cannot_be_drawn_is_posted_as_its_numbers(world, monkeypatch, caplog) -> None:
    emu = world.emulator

    def broken(chart):
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(render_module, "png", broken)
    _, card_ts = await asked(world, COST_ASK)
    text = await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card_ts) if "Savings per" in m.text), None))
    assert text.text.startswith(":bar_chart: Savings per recommendation: ") and "total $" in text.text
    assert not files_in(world, card_ts) and not emu.calls_to("files.getUploadURLExternal")
    assert "could not be drawn" in caplog.text


async def test_a_failed_upload_falls_back_to_the_numbers_and_the_delivery_succeeds(world) -> None:
    emu, service = world.emulator, world.service
    emu.fail_next("files.completeUploadExternal", error="not_in_channel", status=200, retry_after=None)
    _, card_ts = await asked(world, COST_ASK)
    text = await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card_ts) if "Savings per" in m.text), None))
    assert "total $" in text.text and not files_in(world, card_ts)
    assert (await service.queries.delivery_stats()).pending.get("slack", 0) == 0


async def test_an_incident_report_gets_its_error_timeline_when_the_report_has_one(world) -> None:
    emu = world.emulator
    plan, card_ts = await asked(world, "why is checkout erroring")
    report = plan.payload.report
    if report is None or not report.timeline:
        assert not files_in(world, card_ts), "no timeline: no chart"
        return
    [chart] = await emu.wait_for(lambda: files_in(world, card_ts))
    assert chart["name"] == f"incident-{plan.id}.png"
    assert chart["alt_txt"].startswith("Errors per ") and str(report.timeline[0].errors) in chart["alt_txt"]
    for event in report.events[:3]:
        assert event.detail[:20] in chart["alt_txt"]
