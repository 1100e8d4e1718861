"""ComplianceAgent's tools: evaluate controls against observed facts, and write an evidence record."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.inventory import AssetQuery
from core.timeutil import utcnow
from core.tools.base import ToolContext, tool
from core.tools.common import ENVIRONMENT, SEVERITY, STRINGS, TEXT, array_of, facts_resolver, inputs, outputs, source

RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["control_id", "title", "severity", "checked", "failing"],
    "properties": {
        "control_id": TEXT,
        "framework": TEXT,
        "title": TEXT,
        "severity": SEVERITY,
        "checked": {"type": "integer"},
        "failing": STRINGS,
        "expected": {},
        "fact": TEXT,
        "observed": {"type": "object"},  # the failing assets' observed values of the fact
        "remediation": {"type": "object"},
    },
}


def _selected(control: dict[str, Any], ids: list[str], framework: str | None) -> bool:
    if framework and control["framework"].lower() != framework.lower():
        return False
    return not ids or any(control["id"].upper() == i.upper() or control["id"].upper().startswith(i.upper() + ".") for i in ids)


@tool(
    "check_controls",
    "Evaluate compliance controls (by id prefix like CIS-5.2, or by framework) on the assets of an environment.",
    input_schema=inputs(
        {"environment": ENVIRONMENT, "control_ids": STRINGS, "framework": TEXT, "roles": STRINGS}, ("environment",)
    ),
    output_schema=outputs({"results": array_of(RESULT), "assets_checked": {"type": "integer"}, "unknown_controls": STRINGS}),
    risk="read",
)
async def check_controls(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    controls = (await source(ctx, "controls"))["controls"]
    ids = args.get("control_ids", [])
    chosen = [c for c in controls if _selected(c, ids, args.get("framework"))]
    unknown = [i for i in ids if not any(_selected(c, [i], None) for c in controls)]
    assets = await ctx.inventory.query(AssetQuery(environment=args["environment"], roles=args.get("roles", [])))
    facts = await facts_resolver(ctx)
    results = []
    for control in chosen:
        scoped = [a for a in assets if not control.get("roles") or a.role in control["roles"]]
        failing = [a.id for a in scoped if _fails(facts(a).get(control["fact"]), control["expected"])]
        observed = {a.id: facts(a).get(control["fact"]) for a in scoped if a.id in failing}
        result = {
            "control_id": control["id"],
            "framework": control["framework"],
            "title": control["title"],
            "severity": control["severity"],
            "checked": len(scoped),
            "failing": failing,
            "expected": control["expected"],
            "fact": control["fact"],
            "observed": {k: v for k, v in observed.items() if isinstance(v, str | int | float | bool)},
        }
        if control.get("remediation"):
            result["remediation"] = control["remediation"]
        results.append(result)
    failing_total = sum(1 for r in results if r["failing"])
    return {
        "results": results,
        "assets_checked": len(assets),
        "unknown_controls": unknown,
        "summary": f"{len(results) - failing_total} of {len(results)} controls pass on {len(assets)} assets",
    }


def _fails(actual: Any, expected: Any) -> bool:
    # A fact that does not apply to the asset (n/a) is not a failure; a missing fact is.
    return actual not in ("n/a", expected)


@tool(
    "generate_evidence",
    "Write an audit evidence record (markdown with a content digest) from control results.",
    input_schema=inputs({"environment": ENVIRONMENT, "results": {**array_of(RESULT), "minItems": 1}}, ("environment", "results")),
    output_schema=outputs({"evidence_id": TEXT, "generated_at": TEXT, "digest": TEXT, "document": TEXT}),
    risk="plan",
)
async def generate_evidence(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    results = args["results"]
    generated_at = utcnow().isoformat(timespec="seconds")
    lines = [f"# Compliance evidence: {args['environment']}", f"Generated {generated_at}", ""]
    lines += ["| control | title | checked | failing |", "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['control_id']} | {r['title']} | {r['checked']} | {', '.join(r['failing']) or 'none'} |")
    document = "\n".join(lines)
    digest = hashlib.sha256(json.dumps(results, sort_keys=True, default=str).encode()).hexdigest()
    return {
        "evidence_id": f"EV-{digest[:10]}",
        "generated_at": generated_at,
        "digest": f"sha256:{digest}",
        "document": document,
        "summary": f"evidence for {len(results)} controls",
    }


TOOLS = [check_controls, generate_evidence]
