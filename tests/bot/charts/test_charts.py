"""Each chart renders a valid PNG of a fixed size, the same bytes every time, and its alt text has its numbers; data a
chart cannot draw gives the text, never an exception."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import messages
from bot.charts import phase_chart, report_chart
from bot.charts import render as render_module
from bot.charts.cost import MAX_BARS, cost_chart
from bot.charts.incident import incident_chart, likely_cause
from bot.charts.render import DPI, WIDTH_INCHES, render, render_or_none
from core.domain.plan import ErrorBucket, Finding, Plan, PlanPayload, ReportScope, TimelineEvent
from core.domain.run import PhaseResult, Run
from core.domain.status import Status
from core.errors import ChartUnavailable

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def png_info(data: bytes) -> tuple[int, int, dict[bytes, bytes]]:
    """(width, height, text chunks) of a PNG, checking its signature, IHDR and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    texts: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"CRC of {kind!r}"
        if kind in (b"tEXt", b"iTXt", b"zTXt", b"tIME"):
            texts[kind + b":" + body.split(b"\0", 1)[0]] = body
        offset += 12 + length
        if kind == b"IEND":
            break
    assert offset == len(data), "IEND ends the file"
    return width, height, texts


def cost_plan(values: list[float | None]) -> Plan:
    findings = [
        Finding(title=f"Recommendation {i}: save ${v}/month", recommendation=f"Rightsize db-{i}", value=v)
        for i, v in enumerate(values, start=1)
    ]
    findings.append(Finding(title="Bill trend: +$120/month", severity="info", value=120))  # context, not a saving
    return Plan(
        id="plan-cost-0001",
        task_id="t",
        type="cost_report",
        payload=PlanPayload(summary="s", findings=findings, report_only=True),
    )


def incident_plan(errors: list[int], events: list[TimelineEvent] | None = None) -> Plan:
    timeline = [ErrorBucket(at=START + timedelta(minutes=10 * i), errors=n, warnings=i % 2) for i, n in enumerate(errors)]
    report = ReportScope(
        window_start=START, window_end=START + timedelta(minutes=10 * len(errors)), timeline=timeline, events=events or []
    )
    return Plan(
        id="plan-inc-0001", task_id="t", type="incident_report", payload=PlanPayload(summary="s", report=report, report_only=True)
    )


def run(phases: list[PhaseResult], state: str = "completed") -> Run:
    return Run(
        id="run-7f3a9c01-aaaa",
        plan_id="p",
        environment="production",
        phases=phases,
        started_at=START,
        completed_at=START + timedelta(minutes=9),
        status=Status(state=state),
    )


DEPLOY = TimelineEvent(at=START + timedelta(minutes=29), kind="deploy", detail="checkout v2.3", service="checkout")
CONFIG = TimelineEvent(at=START + timedelta(minutes=5), kind="config_change", detail="pool size 50", service="payments")


async def test_the_cost_chart_is_a_png_of_savings_per_recommendation_with_the_numbers_in_its_alt_text() -> None:
    chart = cost_chart(cost_plan([1200, 1100]))
    assert chart is not None
    data = await render(chart)
    width, height, texts = png_info(data)
    assert width == WIDTH_INCHES * DPI and 200 <= height <= 900
    assert not any(b"Software" in k or b"tIME" in k for k in texts), texts
    assert chart.alt_text == (
        "Savings per recommendation: Rightsize db-1 $1,200/month; Rightsize db-2 $1,100/month; total $2,300/month"
    )
    assert chart.title == "Savings per recommendation: $2,300/month in total"
    assert chart.filename == "cost-plan-cost-0001.png"
    assert await render(chart) == data, "the same chart renders to the same bytes"


def test_the_cost_chart_leaves_out_findings_without_a_usable_value_and_folds_the_tail_into_one_bar() -> None:
    chart = cost_chart(cost_plan([300, float("nan"), None, -5, 900]))
    assert chart is not None
    assert chart.alt_text.endswith("Rightsize db-5 $900/month; Rightsize db-1 $300/month; total $1,200/month")
    many = cost_chart(cost_plan([float(100 + i) for i in range(MAX_BARS + 3)]))
    assert many is not None and f"total ${sum(100 + i for i in range(MAX_BARS + 3)):,}/month" in many.alt_text
    assert many.height < 9, "the tail is one bar"
    assert cost_chart(cost_plan([None])) is None, "nothing valued: no chart"


async def test_the_incident_chart_marks_deploys_and_names_the_likely_cause_in_its_alt_text() -> None:
    plan = incident_plan([0, 3, 2, 41, 60, 12], [CONFIG, DEPLOY])
    chart = report_chart(plan)
    assert chart is not None and chart.kind == "incident"
    width, height, _ = png_info(await render(chart))
    assert (width, height) == (WIDTH_INCHES * DPI, 450)
    assert chart.alt_text == (
        "Errors per 10 min from 09:00 to 10:00 UTC: 0, 3, 2, 41, 60, 12; warnings: 0, 1, 0, 1, 0, 1; "
        "config change payments pool size 50 at 09:05; deploy checkout v2.3 at 09:29; "
        "likely cause: deploy checkout v2.3 at 09:29"
    )


def test_no_cause_is_named_without_a_rise_or_without_a_change_near_it() -> None:
    flat = incident_plan([2, 3, 2, 3], [DEPLOY])
    assert likely_cause(flat.payload.report.timeline, [DEPLOY], timedelta(minutes=10)) is None
    late = TimelineEvent(at=START + timedelta(minutes=72), kind="deploy", detail="x", service=None)
    early = TimelineEvent(at=START - timedelta(minutes=40), kind="deploy", detail="y", service=None)
    spike = incident_plan([0, 0, 0, 0, 0, 0, 40, 50], [early, late])
    chart = incident_chart(spike)
    assert chart is not None and "likely cause" not in chart.alt_text and "deploy x at 10:12" in chart.alt_text
    near = TimelineEvent(at=START + timedelta(minutes=35), kind="deploy", detail="z", service="checkout")
    assert likely_cause(spike.payload.report.timeline, [early, near, late], timedelta(minutes=10)) is near


async def test_the_phase_chart_is_a_gantt_of_the_runs_phases_coloured_by_how_they_ended() -> None:
    phases = [
        PhaseResult(name="canary", status="completed", started_at=START, completed_at=START + timedelta(minutes=2, seconds=10)),
        PhaseResult(
            name="wave 1", status="completed", started_at=START + timedelta(minutes=3), completed_at=START + timedelta(minutes=6)
        ),
        PhaseResult(
            name="wave 2",
            status="rolled_back",
            started_at=START + timedelta(minutes=6),
            completed_at=START + timedelta(minutes=9),
        ),
        PhaseResult(name="wave 3", status="pending"),
    ]
    chart = phase_chart(run(phases, "rolled_back"))
    assert chart is not None
    width, height, _ = png_info(await render(chart))
    assert width == WIDTH_INCHES * DPI and height == round((1.4 + 0.45 * 4) * DPI)
    assert chart.alt_text == (
        "Phases of run run-7f3a (rolled back in 9m00s): canary 2m10s completed; wave 1 3m00s completed; "
        "wave 2 3m00s rolled back; wave 3 not started"
    )


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda: phase_chart(run([PhaseResult(name="canary", status="pending")], "failed")), id="no-phase-started"),
        pytest.param(lambda: replace(incident_chart(incident_plan([5])), draw=_boom), id="draw-raises"),
    ],
)
async def test_a_chart_that_cannot_be_drawn_gives_none_and_keeps_its_numbers_as_text(broken, caplog) -> None:
    chart = broken()
    assert chart is not None
    with pytest.raises(Exception):  # noqa: B017 - whatever it is, render_or_none takes it
        await render(chart)
    assert await render_or_none(chart) is None
    assert "could not be drawn" in caplog.text
    text = messages.chart_as_text(chart.alt_text)
    assert chart.alt_text in text and any(ch.isdigit() for ch in text)


def _boom(axes) -> None:
    raise ValueError("unusable data")


async def test_without_matplotlib_the_chart_is_unavailable_not_a_crash(monkeypatch) -> None:
    chart = cost_chart(cost_plan([10]))
    assert chart is not None
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # import matplotlib → ImportError
    with pytest.raises(ChartUnavailable):
        render_module.png(chart)
    assert await render_or_none(chart) is None


def test_alt_text_stays_within_slacks_limit() -> None:
    chart = cost_chart(cost_plan([float(i) for i in range(1, 200)]))
    assert chart is not None and len(chart.alt_text) > 1000
    assert len(chart.alt) == 1000 and chart.alt.endswith("…")
