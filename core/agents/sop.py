from __future__ import annotations

from core.agents.base import Agent, AgentContext, AgentResult
from core.domain import TaskSpec


class SOPAgent(Agent):
    name = "sop_agent"
    title = "SOPAgent"
    description = (
        "Write standard operating procedures: ordered steps with commands, retries and confirmations, checked for safety."
    )
    task_types = ("sop_authoring",)
    plan_type = "sop"
    # execute_sop is write-class: an approved SOP runs in the executor, never while planning.
    tools = ("generate_sop", "validate_sop", "execute_sop")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        topic = str(spec.context.parameters.get("topic") or spec.goal)
        drafted = await ctx.call("generate_sop", topic=topic, environment=spec.environment)
        checked = await ctx.call("validate_sop", steps=drafted["steps"])
        steps = drafted["steps"]
        confirmations = [s["name"] for s in steps if s.get("requires_confirmation")]
        findings = [{"title": p, "severity": "high"} for p in checked["problems"]]
        findings += [{"title": w, "severity": "low"} for w in checked["warnings"]]
        findings.append(
            {
                "title": f"Template {drafted['template']}",
                "severity": "info",
                "detail": f"{len(steps)} steps; confirmation before: {', '.join(confirmations) or 'none'}",
            }
        )
        summary = f"SOP: {drafted['title']} ({len(steps)} steps, {len(confirmations)} need confirmation)"
        where = spec.environment if spec.environment != "all" else "any environment"
        payload = {
            "summary": summary,
            "steps": steps,
            "findings": findings,
            "risk_assessment": (
                f"Approval publishes the SOP for {where}; destructive steps still ask for confirmation when run."
                if checked["valid"]
                else "The SOP fails its safety check; fix the problems before approving."
            ),
        }
        return AgentResult(self.new_plan(spec, task_id, payload), summary, ctx.trace)
