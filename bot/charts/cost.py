"""A cost report's chart: monthly savings per recommendation, largest first, the total in the title.

A finding's ``value`` is the USD it saves per month; findings without one, or of severity ``info`` (the bill's trend),
are no bar.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from bot import messages
from bot.charts.render import Chart, clip
from core.domain.plan import Plan

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_BARS = 12  # the rest are one "N more" bar, so the total still adds up
LABEL_CHARS = 40
BAR_COLOR = "#2eb67d"


def savings(plan: Plan) -> list[tuple[str, float]]:
    """(recommendation, USD per month) of every finding with a usable value, largest first."""
    items = []
    for finding in plan.payload.findings:
        value = finding.value
        if value is None or finding.severity == "info" or not math.isfinite(value) or value <= 0:
            continue  # info findings (the bill's trend) are context, not a saving
        items.append(((finding.recommendation or finding.title).strip() or finding.title, float(value)))
    return sorted(items, key=lambda item: (-item[1], item[0]))


def cost_chart(plan: Plan) -> Chart | None:
    """The chart of ``plan``'s savings; None when no finding has a value."""
    items = savings(plan)
    if not items:
        return None
    total = sum(value for _, value in items)
    bars = items[:MAX_BARS]
    rest = items[MAX_BARS:]
    if rest:
        bars = [*bars, (f"{len(rest)} more", sum(value for _, value in rest))]

    def draw(axes: Axes) -> None:
        positions = list(range(len(bars)))
        values = [value for _, value in bars]
        drawn = axes.barh(positions, values, color=BAR_COLOR)
        axes.set_yticks(positions, [clip(label, LABEL_CHARS) for label, _ in bars], fontsize=9)
        axes.invert_yaxis()
        axes.bar_label(drawn, labels=[f"{messages.usd(value)}/mo" for value in values], padding=3, fontsize=9)
        axes.set_xlim(0, max(values) * 1.2)
        axes.xaxis.set_major_formatter(lambda x, _: messages.usd(x))
        axes.set_xlabel("USD saved per month")
        axes.spines[["top", "right"]].set_visible(False)

    return Chart(
        kind="cost",
        key=plan.id,
        title=messages.cost_chart_title(total),
        alt_text=messages.cost_chart_alt(items, total),
        draw=draw,
        height=1.4 + 0.42 * len(bars),
    )
