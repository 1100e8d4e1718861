from __future__ import annotations

from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.agents.common import listing
from core.domain import TaskSpec
from core.errors import ToolError


class IncidentAgent(Agent):
    name = "incident_agent"
    title = "IncidentAgent"
    description = "Investigate an incident: read the service's and its dependencies' logs and line them up with recent changes."
    task_types = ("incident_investigation",)
    plan_type = "incident_report"
    tools = ("query_logs", "infra_graph", "correlate_events")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        environment = spec.environment
        params = spec.context.parameters
        service = params.get("service")
        window = {k: str(params[k]) for k in ("since", "until") if params.get(k)}
        logs = await ctx.call(
            "query_logs", environment=environment, min_level="warn", **({"services": [service]} if service else {}), **window
        )
        outside = ""
        if logs["count"] == 0 and window:
            # Nothing in the window the ask named: say so, and look at the latest warnings and errors instead.
            logs = await ctx.call(
                "query_logs", environment=environment, min_level="warn", **({"services": [service]} if service else {})
            )
            if logs["count"]:
                named = params.get("time_range") or "the time named"
                span = f"{window.get('since', '…')} to {window.get('until', '…')}"
                outside = f"Nothing logged {named} ({span}); the latest warnings and errors are from {logs['last_at']}. "
        if logs["count"] == 0:
            known = ", ".join(logs["services_known"])
            subject = f"{service} in {environment}" if service else environment
            return AgentResult(None, f"No warnings or errors logged for {subject}. Services with logs: {known}.", ctx.trace)
        scoped = {} if outside else window
        if not service:
            service = max(logs["by_service"], key=lambda s: logs["by_service"][s])
            logs = await ctx.call("query_logs", environment=environment, min_level="warn", services=[service], **scoped)
        dependencies = await self._dependencies(ctx, service)
        related = (
            await ctx.call("query_logs", environment=environment, min_level="error", services=dependencies, **scoped)
            if dependencies
            else None
        )
        errors = [e for e in logs["entries"] if e["level"] == "error"]
        first = (errors or logs["entries"])[0]
        correlated = await ctx.call(
            "correlate_events", services=[service, *dependencies], first_error_at=first["at"], environment=environment
        )
        assets = sorted({e["asset"] for e in logs["entries"] if e.get("asset")})
        top = logs["top_messages"][0]["message"] if logs["top_messages"] else first["message"]
        findings: list[dict[str, Any]] = [
            {
                "title": f"{service}: {len(errors)} errors, {logs['count'] - len(errors)} warnings since {first['at']}",
                "severity": "high" if errors else "medium",
                "assets": assets,
                "detail": "\n".join(f"{m['count']}× {m['message']}" for m in logs["top_messages"]),
            }
        ]
        if related and related["count"]:
            for dependency, count in related["by_service"].items():
                lines = [e for e in related["entries"] if e["service"] == dependency]
                findings.append(
                    {
                        "title": f"Dependency {dependency}: {count} errors in the same period",
                        "severity": "high",
                        "assets": sorted({e["asset"] for e in lines if e.get("asset")}),
                        "detail": lines[0]["message"],
                    }
                )
        cause = correlated["likely_cause"]
        for event in correlated["events"]:
            is_cause = cause is not None and event["at"] == cause["at"] and event["detail"] == cause["detail"]
            finding = {
                "title": ("Likely cause: " if is_cause else f"{event['kind'].replace('_', ' ').capitalize()}: ")
                + event["detail"],
                "severity": "critical" if is_cause else "info",
                "detail": f"{event['service']} {event['kind']} at {event['at']} ({event['minutes_before']:g} min before the first error)",
            }
            if event.get("hint"):
                finding["recommendation"] = event["hint"]
            findings.append(finding)
        summary = (
            outside
            + f"{service} in {environment}: {len(errors)} errors on {len(assets)} assets since {first['at']}, mostly “{top}”"
        )
        summary += f". Likely cause: {cause['detail']}" if cause else ". No recent change lines up with the errors"
        payload = {
            "summary": summary,
            "affected_assets": assets,
            "total_assets": len(assets),
            "findings": findings,
            "report_only": True,
            "risk_assessment": (
                f"Suggested fix: {cause['hint']}" if cause and cause.get("hint") else "No change proposed; investigate further."
            )
            + f" Services examined: {listing([service, *dependencies])}.",
        }
        return AgentResult(self.new_plan(spec, task_id, payload), summary, ctx.trace)

    @staticmethod
    async def _dependencies(ctx: AgentContext, service: str) -> list[str]:
        try:
            graph = await ctx.call("infra_graph", services=[service])
        except ToolError:
            return []
        return [edge[1] for edge in graph["edges"] if edge[0] == service]
