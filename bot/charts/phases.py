"""A run's chart: one bar per phase from its start to its end (a Gantt chart), coloured by how the phase ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot import messages
from bot.charts.render import Chart, clip
from core.domain.run import PhaseResult, Run
from core.errors import ChartUnavailable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLORS = {
    "completed": "#2eb67d",
    "failed": "#e01e5a",
    "rolled_back": "#ecb22e",
    "running": "#36c5f0",
    "skipped": "#bbbbbb",
    "pending": "#dddddd",
}
LABEL_CHARS = 28


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _span(phase: PhaseResult, run: Run) -> tuple[datetime, datetime] | None:
    """When the phase started and ended (a phase cut short ends when the run did); None if it never started."""
    if phase.started_at is None:
        return None
    end = phase.completed_at or run.completed_at
    start = _utc(phase.started_at)
    return start, max(start, _utc(end)) if end is not None else start


def phase_chart(run: Run) -> Chart | None:
    """The phase timeline of a finished ``run``; None when it has no phases."""
    if not run.phases:
        return None
    spans = [_span(phase, run) for phase in run.phases]
    started = [span[0] for span in spans if span is not None]
    origin = _utc(run.started_at) if run.started_at is not None else min(started, default=None)
    if started and origin is not None:
        origin = min(origin, *started)
    lines = [
        messages.phase_chart_line(phase.name, (span[1] - span[0]).total_seconds() if span is not None else None, phase.status)
        for phase, span in zip(run.phases, spans, strict=True)
    ]
    seconds = run.metrics.duration_seconds
    if not seconds and origin is not None and run.completed_at is not None:
        seconds = max(0.0, (_utc(run.completed_at) - origin).total_seconds())
    ends = [span[1] for span in spans if span is not None]
    total = max(((end - origin).total_seconds() for end in ends), default=0.0) if origin is not None else 0.0
    in_minutes = total >= 300
    unit = 60.0 if in_minutes else 1.0

    def draw(axes: Axes) -> None:
        if origin is None or not started:
            raise ChartUnavailable(f"no phase of run {run.id} has a start time")
        shown: set[str] = set()
        smallest = max(total / unit, 1e-6) * 0.004  # a phase of no length still shows as a sliver
        for row, (phase, span) in enumerate(zip(run.phases, spans, strict=True)):
            color = COLORS.get(phase.status, COLORS["pending"])
            name = messages.PHASE_STATES.get(phase.status, phase.status)
            if span is None:
                axes.text(0, row, f"  {name}", va="center", fontsize=8, color="#616061")
                continue
            left = (span[0] - origin).total_seconds() / unit
            length = max((span[1] - span[0]).total_seconds() / unit, smallest)
            axes.barh(row, length, left=left, color=color, label=None if name in shown else name, height=0.6)
            shown.add(name)
            axes.text(
                left + length, row, f" {messages.short_duration((span[1] - span[0]).total_seconds())}", va="center", fontsize=8
            )
        axes.set_yticks(range(len(run.phases)), [clip(p.name, LABEL_CHARS) for p in run.phases], fontsize=9)
        axes.set_ylim(len(run.phases) - 0.5, -0.5)
        axes.set_xlim(0, max(total / unit, 1e-6) * 1.15)
        axes.set_xlabel("minutes since the run started" if in_minutes else "seconds since the run started")
        if shown:
            axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(shown), fontsize=8, frameon=False)
        axes.spines[["top", "right"]].set_visible(False)

    return Chart(
        kind="phases",
        key=run.id,
        title=messages.phase_chart_title(run.id, run.state, seconds),
        alt_text=messages.phase_chart_alt(run.id, run.state, seconds, lines),
        draw=draw,
        height=1.4 + 0.45 * len(run.phases),
    )
