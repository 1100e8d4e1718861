from __future__ import annotations

from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.agents.report import evidence, month_window
from core.domain import TaskSpec
from core.tools.common import money


class CostAgent(Agent):
    name = "cost_agent"
    title = "CostAgent"
    description = "Find savings in the cloud bill (rightsizing, schedules, unused storage, commitments) with dollar amounts."
    task_types = ("cost_optimization",)
    plan_type = "cost_report"
    tools = ("billing_data", "forecast", "recommend")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        environment = spec.environment
        bill = await ctx.call("billing_data", environment=environment)
        projected = await ctx.call("forecast", months=3)
        advice = await ctx.call("recommend", environment=environment)
        where = environment if environment != "all" else "all environments"
        if not advice["recommendations"]:
            return AgentResult(None, f"No savings found in {where}: {money(bill['total_usd'])} in {bill['month']}.", ctx.trace)
        total, saving = bill["total_usd"], advice["total_savings_usd"]
        by_resource = {line["resource"]: line for line in bill["lines"]}
        # No finding here has an action: no agent plans rightsizing, schedules, deletions or commitments (yet).
        findings: list[dict[str, Any]] = [
            {
                "title": f"{r['title']}: save {money(r['monthly_savings_usd'])}/month",
                "severity": "high"
                if r["monthly_savings_usd"] >= 1000
                else "medium"
                if r["monthly_savings_usd"] >= 300
                else "low",
                "detail": f"{r.get('detail', '')} ({r['environment']}, effort {r.get('effort', 'medium')})".strip(),
                "assets": r.get("assets", []),
                "recommendation": r["title"],
                "evidence": evidence([_bill_line(by_resource[r["resource"]])] if r["resource"] in by_resource else []),
                "value": r["monthly_savings_usd"],  # USD saved per month (the savings chart reads it)
            }
            for r in advice["recommendations"]
        ]
        trend = projected["trend_usd_per_month"]
        findings.append(
            {
                "title": f"Bill trend: {'+' if trend >= 0 else ''}{money(trend)}/month",
                "severity": "info",
                "detail": "; ".join(f"+{p['months_ahead']}m: {money(p['total_usd'])}" for p in projected["projection"]),
                "value": trend,
            }
        )
        share = f" ({saving / total:.0%} of {money(total)} in {bill['month']})" if total else ""
        summary = f"Save about {money(saving)}/month in {where}{share} with {len(advice['recommendations'])} changes; the bill grows {money(trend)}/month"
        affected = sorted({a for r in advice["recommendations"] for a in r.get("assets", [])})
        payload = {
            "summary": summary,
            "affected_assets": affected,
            "findings": findings,
            "report": {
                **dict(zip(("window_start", "window_end"), month_window(bill["month"]) or (), strict=False)),
                "sources": [
                    f"cloud bill {bill['month']} ({len(bill['lines'])} lines, {money(total)})",
                    "monthly bill history (forecast)",
                    "CPU and running hours from the monitoring export",
                ],
            },
            "report_only": True,
            "risk_assessment": "Report only; each recommendation becomes its own change request when you act on it.",
        }
        return AgentResult(self.new_plan(spec, task_id, payload), summary, ctx.trace)


def _bill_line(line: dict[str, Any]) -> str:
    """A bill line as evidence: ``web-prod-fleet-use1 ec2 m5.2xlarge on_demand: $3,924.48/month, CPU 11%, 720h``."""
    parts = [str(line["resource"]), str(line["service"])]
    parts += [str(line[k]) for k in ("instance_type", "pricing", "state") if line.get(k)]
    text = " ".join(parts) + f": {money(line['monthly_usd'])}/month"
    if line.get("cpu_avg_percent") is not None:
        text += f", CPU {line['cpu_avg_percent']:g}%"
    if line.get("hours_running") is not None:
        text += f", {line['hours_running']:g}h running"
    return text
