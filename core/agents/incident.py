from __future__ import annotations

import re
from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.agents.common import listing
from core.agents.report import evidence, iso, log_line, moment, timeline, timeline_events
from core.domain import TaskSpec
from core.errors import ToolError
from core.tools.common import is_older, source

# A hint is an SOP when it shares this many keywords with one of the SOP templates (one shared word, "db" in a host
# name, is a coincidence, not a procedure).
SOP_KEYWORDS_NEEDED = 2
TIMELINE_LIMIT = 500  # log lines read for the timeline


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
                "evidence": evidence(log_line(e) for e in (errors or logs["entries"])),
                "value": len(errors),
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
                        "evidence": evidence(log_line(e) for e in lines),
                        "value": count,
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
                "evidence": [f"{event['at']} {event['kind']} {event['service']}: {event['detail']}"],
            }
            if event.get("hint"):
                finding["recommendation"] = event["hint"]
                action = await self._action(ctx, event, environment) if is_cause else None
                if action is not None:
                    finding["action"] = action
            findings.append(finding)
        summary = (
            outside
            + f"{service} in {environment}: {len(errors)} errors on {len(assets)} assets since {first['at']}, mostly “{top}”"
        )
        summary += f". Likely cause: {cause['detail']}" if cause else ". No recent change lines up with the errors"
        examined = [service, *dependencies]
        report = await self._scope(ctx, environment, examined, window if not outside else {}, logs, related, correlated)
        payload = {
            "summary": summary,
            "report": report,
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
    async def _scope(
        ctx: AgentContext,
        environment: str,
        services: list[str],
        asked: dict[str, str],
        logs: dict[str, Any],
        related: dict[str, Any] | None,
        correlated: dict[str, Any],
    ) -> dict[str, Any]:
        """The window examined (the one asked for, else from the earliest change or log line to the last line), the
        sources, and the errors and warnings of the services examined bucketed over the window."""
        events = timeline_events(correlated["events"])
        seen = [logs["first_at"], logs["last_at"], *[e["at"] for e in events]]
        if related is not None:
            seen += [related["first_at"], related["last_at"]]
        seen = [t for t in seen if t]
        start = moment(asked["since"]) if asked.get("since") else min(moment(t) for t in seen)
        end = moment(asked["until"]) if asked.get("until") else max(moment(t) for t in seen)
        lines = await ctx.call(
            "query_logs",
            environment=environment,
            min_level="warn",
            services=services,
            since=iso(start),
            until=iso(end),
            limit=TIMELINE_LIMIT,
        )
        buckets, first = timeline(lines["entries"], start, end)
        sources = [f"logs of {listing(services)} in {environment} (warnings and errors)", "service dependency graph"]
        sources.append(f"deploys and config changes of {listing(services)}")
        return {
            "window_start": iso(first if not asked.get("since") else start),
            "window_end": iso(end),
            "sources": sources,
            "timeline": buckets,
            "events": [e for e in events if start <= moment(e["at"]) <= end],
        }

    @staticmethod
    async def _action(ctx: AgentContext, event: dict[str, Any], environment: str) -> dict[str, Any] | None:
        """The change the likely cause's fix can become, when an agent can plan it and a driver carry it out:

        - a deploy whose fix names a golden image and a version newer than the golden one: that image rollout
          (ImageAgent builds, validates and promotes it);
        - a fix an SOP template covers (restart, certificate rotation, failover, disk cleanup...): that SOP (SOPAgent).

        Anything else ("roll back checkout to v2.13.2": no agent deploys application versions) has no action."""
        hint = str(event["hint"])
        where = environment if environment != "all" else event.get("environment") or "production"
        if event["kind"] == "deploy":
            fleet = await ctx.tool_context.inventory.fleet()
            lowered = hint.lower()
            image = next((name for name in sorted(fleet.golden_images) if name.lower() in lowered), None)
            version = re.search(r"\bv?(\d+(?:\.\d+){1,3})\b", hint)
            # The image agent builds and promotes a version newer than the golden one; it cannot roll one back.
            if image and version and is_older(fleet.golden_images[image], version.group(1)):
                return {
                    "kind": "image_rollout",
                    "ask": f"build and promote {image} {version.group(1)} to {where}",
                    "label": f"Roll out {image} {version.group(1)}"[:75],
                }
        try:
            templates = (await source(ctx.tool_context, "sops"))["templates"]
        except (KeyError, ToolError):
            return None
        words = set(re.findall(r"[a-z0-9]+", hint.lower()))
        if any(len(words & {k.lower() for k in t.get("keywords", [])}) >= SOP_KEYWORDS_NEEDED for t in templates):
            return {"kind": "sop_step", "ask": f"write an SOP to {hint.rstrip('.')} in {where}"[:500]}
        return None

    @staticmethod
    async def _dependencies(ctx: AgentContext, service: str) -> list[str]:
        try:
            graph = await ctx.call("infra_graph", services=[service])
        except ToolError:
            return []
        return [edge[1] for edge in graph["edges"] if edge[0] == service]
