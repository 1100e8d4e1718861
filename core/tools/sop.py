"""SOPAgent's tools: draft an SOP from a template, check it is safe to run, and run it (write-class,
executor only after approval; the shipped handler simulates each step)."""

from __future__ import annotations

import re
from typing import Any

from core.tools.base import ToolContext, tool
from core.tools.common import ENVIRONMENT, TEXT, array_of, inputs, outputs, source

DESTRUCTIVE = re.compile(
    r"\b(rm\s+-[a-z]*[rf]|mkfs|dd\s+if=|shutdown|reboot|kill(all)?\b|drop\s+(table|database)|truncate|delete\b|-delete\b"
    r"|destroy|revoke|promote|restart|stop\b|terminate|dns\s+set|maintenance\s+on|deploy\b|restore)",
    re.IGNORECASE,
)
_STEP = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": TEXT,
        "description": {"type": "string"},
        "command": {"type": "string"},
        "requires_confirmation": {"type": "boolean"},
        "retries": {"type": "integer", "minimum": 0},
        "timeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h|d)$"},
        "depends_on": {"type": "array", "items": TEXT},
        "rollback": {"type": "boolean"},
    },
}
MAX_RETRIES = 5


def is_destructive(command: str | None) -> bool:
    if not command:
        return False
    return DESTRUCTIVE.search(command) is not None


@tool(
    "generate_sop",
    "Draft an SOP for a topic from the template library: ordered steps with commands, retries, timeouts and confirmations.",
    input_schema=inputs({"topic": TEXT, "environment": ENVIRONMENT}, ("topic",)),
    output_schema=outputs({"template": TEXT, "title": TEXT, "steps": array_of(_STEP)}),
    risk="plan",
)
async def generate_sop(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    templates = (await source(ctx, "sops"))["templates"]
    words = set(re.findall(r"[a-z0-9]+", args["topic"].lower()))
    scored = sorted(templates, key=lambda t: -len(words & {k.lower() for k in t["keywords"]}))
    best = (
        scored[0]
        if scored and words & {k.lower() for k in scored[0]["keywords"]}
        else next((t for t in templates if t["id"] == "generic"), templates[0])
    )
    environment = args.get("environment", "all")
    target = environment if environment != "all" else "<environment>"
    steps, previous = [], None
    for raw in best["steps"]:
        step = {k: v for k, v in raw.items() if k != "rollback"}
        if step.get("command"):
            step["command"] = step["command"].replace("{environment}", target)
        step["requires_confirmation"] = is_destructive(step.get("command")) or bool(raw.get("rollback"))
        step.setdefault("retries", 0)
        if raw.get("rollback"):
            step["description"] = (step.get("description", "") + " (only if a step fails)").strip()
            step["when"] = "on_failure"
        elif previous:
            step["depends_on"] = [previous]
        if not raw.get("rollback"):
            previous = step["name"]
        steps.append(step)
    title = best["title"] if best["id"] != "generic" else f"{best['title']}: {args['topic']}"
    return {
        "template": best["id"],
        "title": title,
        "steps": steps,
        "summary": f"{len(steps)} steps from template {best['id']}, {sum(s['requires_confirmation'] for s in steps)} need confirmation",
    }


@tool(
    "validate_sop",
    "Check an SOP is safe to run: destructive commands need confirmation, bounded retries, a verify and a rollback step.",
    input_schema=inputs({"steps": {**array_of(_STEP), "minItems": 1}}, ("steps",)),
    output_schema=outputs({"valid": {"type": "boolean"}, "problems": array_of(TEXT), "warnings": array_of(TEXT)}),
    risk="read",
)
async def validate_sop(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    steps = args["steps"]
    problems, warnings = [], []
    names = [s["name"] for s in steps]
    if len(set(names)) != len(names):
        problems.append("step names must be unique")
    for step in steps:
        if is_destructive(step.get("command")) and not step.get("requires_confirmation"):
            problems.append(f"step {step['name']!r} runs a destructive command without confirmation")
        if step.get("retries", 0) > MAX_RETRIES:
            problems.append(f"step {step['name']!r} retries {step['retries']} times (at most {MAX_RETRIES})")
        for dependency in step.get("depends_on", []):
            if dependency not in names:
                problems.append(f"step {step['name']!r} depends on unknown step {dependency!r}")
    if not any("verify" in s["name"] or "verify" in (s.get("description") or "").lower() for s in steps):
        warnings.append("no verification step")
    if not any("rollback" in s["name"] or "restore" in (s.get("command") or "") for s in steps):
        warnings.append("no rollback step")
    return {
        "valid": not problems,
        "problems": problems,
        "warnings": warnings,
        "summary": "SOP is safe to run" if not problems else f"{len(problems)} problems",
    }


@tool(
    "execute_sop",
    "Run an approved SOP step by step (write: runs only after approval).",
    input_schema=inputs({"steps": {**array_of(_STEP), "minItems": 1}, "environment": ENVIRONMENT}, ("steps", "environment")),
    output_schema=outputs({"results": array_of({"type": "object", "required": ["name", "status"]})}),
    risk="write",
)
async def execute_sop(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    results = [{"name": s["name"], "status": "skipped" if "rollback" in s["name"] else "simulated"} for s in args["steps"]]
    return {
        "results": results,
        "summary": f"simulated {sum(r['status'] == 'simulated' for r in results)} steps in {args['environment']}",
    }


TOOLS = [generate_sop, validate_sop, execute_sop]
