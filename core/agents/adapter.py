from __future__ import annotations

from core.agents.base import Agent, AgentContext, AgentResult
from core.domain import TaskSpec
from core.errors import ToolError


class AdapterAgent(Agent):
    name = "adapter_agent"
    title = "AdapterAgent"
    description = "Integrate a third-party API: discover its endpoints and generate a reviewed adapter module."
    task_types = ("adapter_generation",)
    plan_type = "adapter_plan"
    tools = ("discover_api", "generate_adapter")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        params = spec.context.parameters
        api = params.get("api")
        if not api:
            return AgentResult(None, "Which API? Name it, e.g. `integrate the PagerDuty API`.", ctx.trace)
        try:
            found = await ctx.call("discover_api", api=str(api))
        except ToolError as exc:
            return AgentResult(None, str(exc).removeprefix("tool discover_api failed: "), ctx.trace)
        include_writes = bool(params.get("include_writes"))
        generated = await ctx.call(
            "generate_adapter",
            api=found["api"],
            title=found["title"],
            base_url=found["base_url"],
            auth=found["auth"],
            endpoints=found["endpoints"],
            include_writes=include_writes,
        )
        endpoints = found["endpoints"]
        kept = {m["name"] for m in generated["methods"]}
        left_out = [e for e in endpoints if e["operation"] not in kept]
        findings = [
            {
                "title": f"Discovered {len(endpoints)} endpoints on {found['base_url']}",
                "severity": "info",
                "detail": "\n".join(
                    f"{e['method']} {e['path']}: {e.get('summary', '')}" + (" (write)" if e.get("writes") else "")
                    for e in endpoints
                ),
            }
        ]
        if left_out:
            findings.append(
                {
                    "title": f"{len(left_out)} write endpoints left out",
                    "severity": "info",
                    "detail": ", ".join(e["operation"] for e in left_out),
                    "recommendation": "Ask again with 'including writes' to generate them",
                }
            )
        findings.append(
            {
                "title": f"Rate limit {found['rate_limit']}",
                "severity": "low",
                "detail": f"auth {found['auth'].get('type')} via {found['auth'].get('header', 'header')}",
            }
        )
        steps = [
            {
                "name": "review-code",
                "description": f"Review {generated['module']} ({generated['lines']} lines, {generated['digest'][:19]})",
            },
            {
                "name": "store-secret",
                "description": f"Store the API key as {generated['secret']} in the secret store",
                "requires_confirmation": True,
                "depends_on": ["review-code"],
            },
            {
                "name": "register-adapter",
                "description": f"Register {generated['class_name']} with methods {', '.join(sorted(kept))}",
                "command": f"opspilot adapters register {generated['module']}",
                "requires_confirmation": True,
                "depends_on": ["store-secret"],
            },
            {
                "name": "contract-test",
                "description": "Call each read endpoint once against the sandbox account",
                "command": f"opspilot adapters test {found['api']} --read-only",
                "retries": 2,
                "timeout": "5m",
                "depends_on": ["register-adapter"],
            },
        ]
        summary = (
            f"{found['title']} adapter: {len(kept)} of {len(endpoints)} endpoints, "
            f"{generated['class_name']} in {generated['module']} ({generated['lines']} lines)"
        )
        payload = {
            "summary": summary,
            "steps": steps,
            "findings": findings,
            "changes": [
                {
                    "asset_id": f"adapter:{found['api']}",
                    "action": "register_adapter",
                    "details": {
                        "module": generated["module"],
                        "class_name": generated["class_name"],
                        "methods": sorted(kept),
                        "digest": generated["digest"],
                        "lines": generated["lines"],
                        "code": generated["code"],
                    },
                }
            ],
            "risk_assessment": "Low: read-only endpoints; the adapter runs with its own API key."
            if not include_writes
            else "Medium: the adapter can change data in the third-party service.",
        }
        return AgentResult(self.new_plan(spec, task_id, payload), summary, ctx.trace)
