"""Charts posted in Slack threads: a cost report's savings, an incident report's error timeline, a run's phases.

Presentation only: each chart is built from a plan or run (its numbers, as alt text, and a drawing), rendered to PNG
in a worker thread (``render.render``) and uploaded by ``bot.slack_charts``; when it cannot be drawn or uploaded, its
alt text is posted instead.
"""

from __future__ import annotations

from bot.charts.cost import cost_chart
from bot.charts.incident import incident_chart
from bot.charts.phases import phase_chart
from bot.charts.render import Chart
from core.domain.plan import Plan

__all__ = ["Chart", "phase_chart", "report_chart"]


def report_chart(plan: Plan) -> Chart | None:
    """The chart a report's card gets in its thread (cost: savings; incident: the error timeline); None for others."""
    if plan.type == "cost_report":
        return cost_chart(plan)
    if plan.type == "incident_report":
        return incident_chart(plan)
    return None
