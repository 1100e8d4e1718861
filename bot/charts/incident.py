"""An incident report's chart: errors (and warnings) per slice of the window, with the deploys and config changes of
``plan.payload.report.events`` as labelled vertical lines and the likely cause drawn heavier.

The likely cause is the latest change made before the end of the slice where errors rose the most (at least doubling,
by at least ``MIN_RISE``) and at most ``LOOKBACK`` (or three slices, if longer) before that slice began; with no such
rise, or no change in that span, none is named.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import TYPE_CHECKING

from bot import messages
from bot.charts.render import Chart, clip
from core.domain.plan import ErrorBucket, Plan, TimelineEvent
from core.errors import ChartUnavailable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MIN_RISE = 3
LOOKBACK = timedelta(minutes=30)
DEFAULT_WIDTH = timedelta(minutes=10)  # one bucket and no window end: a guess that only sets the bar's width
MAX_TICKS = 8
ERROR_COLOR = "#e01e5a"
WARNING_COLOR = "#ecb22e"
EVENT_COLOR = "#616061"
CAUSE_COLOR = "#1d1c1d"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clock(moment: datetime, *, with_day: bool) -> str:
    return moment.strftime("%m-%d %H:%M" if with_day else "%H:%M")


def width_of(buckets: list[ErrorBucket], window_end: datetime | None) -> timedelta:
    """How long one bucket is: the usual gap between buckets (one bucket: up to the window's end)."""
    gaps = [(_utc(b.at) - _utc(a.at)).total_seconds() for a, b in pairwise(buckets)]
    gaps = [gap for gap in gaps if gap > 0]
    if gaps:
        return timedelta(seconds=median(gaps))
    if window_end is not None and _utc(window_end) > _utc(buckets[0].at):
        return _utc(window_end) - _utc(buckets[0].at)
    return DEFAULT_WIDTH


def likely_cause(buckets: list[ErrorBucket], events: list[TimelineEvent], width: timedelta) -> TimelineEvent | None:
    """The latest change shortly before (or in) the slice where errors rose the most (None: no clear rise)."""
    best: int | None = None
    best_rise = 0
    for index, bucket in enumerate(buckets):
        before = buckets[index - 1].errors if index else 0
        rise = bucket.errors - before
        if rise >= MIN_RISE and bucket.errors >= 2 * before and rise > best_rise:
            best, best_rise = index, rise
    if best is None:
        return None
    start = _utc(buckets[best].at)
    lookback = max(LOOKBACK, 3 * width)
    near = [e for e in events if start - lookback <= _utc(e.at) < start + width]
    return max(near, key=lambda e: _utc(e.at)) if near else None


def incident_chart(plan: Plan) -> Chart | None:
    """The error timeline of ``plan``'s report; None when the report has no timeline."""
    report = plan.payload.report
    if report is None or not report.timeline:
        return None
    buckets = sorted(report.timeline, key=lambda b: _utc(b.at))
    width = width_of(buckets, report.window_end)
    start = _utc(buckets[0].at)
    end = _utc(buckets[-1].at) + width
    events = sorted((e for e in report.events if start - width <= _utc(e.at) <= end), key=lambda e: _utc(e.at))
    cause = likely_cause(buckets, events, width)
    with_day = end - start > timedelta(hours=24) or start.date() != (end - timedelta(microseconds=1)).date()

    def label(event: TimelineEvent) -> str:
        return messages.timeline_event(event.kind, event.detail, event.service, _clock(_utc(event.at), with_day=with_day))

    span = messages.bucket_width(width.total_seconds())
    first, last = _clock(start, with_day=with_day), _clock(end, with_day=with_day)
    alt = messages.incident_chart_alt(
        span,
        first,
        last,
        [b.errors for b in buckets],
        [b.warnings for b in buckets],
        [label(e) for e in events],
        label(cause) if cause is not None else None,
    )
    step = width.total_seconds() / 60

    def minutes(moment: datetime) -> float:
        return (_utc(moment) - start).total_seconds() / 60

    def draw(axes: Axes) -> None:
        if step <= 0:
            raise ChartUnavailable("the incident timeline's buckets have no width")
        lefts = [minutes(b.at) for b in buckets]
        errors = [b.errors for b in buckets]
        warnings = [b.warnings for b in buckets]
        axes.bar(lefts, errors, width=step * 0.9, align="edge", color=ERROR_COLOR, label="errors")
        if any(warnings):
            axes.bar(lefts, warnings, width=step * 0.9, align="edge", bottom=errors, color=WARNING_COLOR, label="warnings")
        top = max([e + w for e, w in zip(errors, warnings, strict=True)] + [1])
        axes.set_ylim(0, top * 1.25)
        total = (end - start).total_seconds() / 60
        for event in events:
            heavy = event is cause
            x = minutes(event.at)
            axes.axvline(
                x, color=CAUSE_COLOR if heavy else EVENT_COLOR, linestyle="-" if heavy else "--", linewidth=2.2 if heavy else 1.0
            )
            text = clip(f"{event.kind.replace('_', ' ')}: {event.detail}", 40) + (" (likely cause)" if heavy else "")
            side = "left" if x <= total / 2 else "right"  # the label inside the plot, beside its line
            axes.text(
                x,
                top * 1.22,
                text,
                rotation=90,
                va="top",
                ha=side,
                fontsize=8,
                fontweight="bold" if heavy else "normal",
                color=CAUSE_COLOR if heavy else EVENT_COLOR,
            )
        every = max(1, -(-len(buckets) // MAX_TICKS))
        ticks = [minutes(b.at) for b in buckets[::every]] + [total]
        axes.set_xticks(ticks, [_clock(start + timedelta(minutes=t), with_day=with_day) for t in ticks], fontsize=8)
        axes.set_xlim(min([0.0, *(minutes(e.at) for e in events)]) - step * 0.1, total + step * 0.1)
        axes.set_ylabel(f"per {span}")
        axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
        axes.spines[["top", "right"]].set_visible(False)

    return Chart(
        kind="incident",
        key=plan.id,
        title=messages.incident_chart_title(span, first, last),
        alt_text=alt,
        draw=draw,
        height=4.5,
    )
