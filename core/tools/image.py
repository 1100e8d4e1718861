"""ImageAgent's tools. ``validate`` reads; ``build_image`` and ``promote`` are write-class: they run
only in the executor for an approved plan, never while planning and never for a language model.
The shipped handlers simulate the builder and the image registry."""

from __future__ import annotations

import hashlib
from typing import Any

from core.errors import ToolError
from core.tools.base import ToolContext, tool
from core.tools.common import TEXT, array_of, inputs, is_older, outputs, source, version_key

_TARGET = {"enum": ["production", "staging", "development"]}
_CHECK = {
    "type": "object",
    "required": ["name", "passed"],
    "properties": {"name": TEXT, "passed": {"type": "boolean"}, "detail": {"type": "string"}},
}
REQUIRED_HARDENING = ("CIS-5.2", "CIS-3.5")


def next_version(version: str) -> str:
    parts = str(version).split(".")
    if parts and parts[-1].isdigit():
        parts[-1] = str(int(parts[-1]) + 1)
        return ".".join(parts)
    return f"{version}.1"


@tool(
    "validate",
    "Validate a candidate golden image version before build and promotion: recipe, hardening, tests, CVE scan.",
    input_schema=inputs({"image": TEXT, "version": TEXT}, ("image",)),
    output_schema=outputs(
        {
            "image": TEXT,
            "version": TEXT,
            "current_golden": TEXT,
            "passed": {"type": "boolean"},
            "checks": array_of(_CHECK),
            "scan": {"type": "object", "required": ["critical", "high", "medium", "low"]},
            "recipe": {"type": "object"},
        }
    ),
    risk="read",
)
async def validate(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    image = args["image"]
    fleet = await ctx.inventory.fleet()
    if image not in fleet.golden_images:
        raise ToolError(f"unknown image {image!r}; golden images: {', '.join(sorted(fleet.golden_images))}")
    current = fleet.golden_images[image]
    version = args.get("version") or next_version(current)
    recipe = (await source(ctx, "images"))["recipes"].get(image)
    feed = (await source(ctx, "cves"))["cves"]
    checks: list[dict[str, Any]] = [
        {
            "name": "recipe",
            "passed": recipe is not None,
            "detail": f"{recipe['builder']} from {recipe['base']}" if recipe else "no recipe in images.yaml",
        }
    ]
    checks.append({"name": "version", "passed": _newer(version, current), "detail": f"{version} after golden {current}"})
    hardening = set(recipe.get("hardening", [])) if recipe else set()
    missing = [c for c in REQUIRED_HARDENING if c not in hardening]
    checks.append(
        {
            "name": "hardening",
            "passed": not missing,
            "detail": "missing " + ", ".join(missing) if missing else "CIS baseline enforced",
        }
    )
    tests = recipe.get("tests", []) if recipe else []
    checks.append({"name": "tests", "passed": "boot" in tests and "cve_scan" in tests, "detail": ", ".join(tests) or "none"})
    scan = {"critical": 0, "high": 0, "medium": 0, "low": 0}
    open_cves = []
    for advisory in feed:
        for affected in advisory["affects"]:
            if affected["image"] == image and is_older(version, affected["fixed_in"]):
                open_cves.append(advisory["id"])
                if advisory["severity"] in scan:
                    scan[advisory["severity"]] += 1
    blocking = scan["critical"] + scan["high"]
    checks.append({"name": "cve_scan", "passed": blocking == 0, "detail": ", ".join(open_cves) or "no known CVEs"})
    passed = all(c["passed"] for c in checks)
    return {
        "image": image,
        "version": version,
        "current_golden": current,
        "passed": passed,
        "checks": checks,
        "scan": scan,
        "recipe": recipe or {},
        "summary": f"{image} {version}: {'passes' if passed else 'fails'} validation ({sum(c['passed'] for c in checks)}/{len(checks)} checks)",
    }


def _newer(version: str, than: str) -> bool:
    try:
        return version_key(version) > version_key(than)
    except TypeError:
        return version != than


@tool(
    "build_image",
    "Build a golden image version from its recipe (write: runs only after approval).",
    input_schema=inputs({"image": TEXT, "version": TEXT}, ("image", "version")),
    output_schema=outputs({"image": TEXT, "version": TEXT, "artifact_id": TEXT}),
    risk="write",
)
async def build_image(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    artifact = "ami-" + hashlib.sha256(f"{args['image']}:{args['version']}".encode()).hexdigest()[:17]
    return {
        "image": args["image"],
        "version": args["version"],
        "artifact_id": artifact,
        "summary": f"built {args['image']} {args['version']} as {artifact}",
    }


@tool(
    "promote",
    "Promote a validated image version to golden in an environment (write: runs only after approval).",
    input_schema=inputs({"image": TEXT, "version": TEXT, "environment": _TARGET}, ("image", "version", "environment")),
    output_schema=outputs({"image": TEXT, "version": TEXT, "environment": TEXT}),
    risk="write",
)
async def promote(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return {
        **{k: args[k] for k in ("image", "version", "environment")},
        "summary": f"{args['image']} {args['version']} is golden in {args['environment']}",
    }


TOOLS = [validate, build_image, promote]
