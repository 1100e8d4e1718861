from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from core.errors import ToolNotAllowed
from core.service import OpsPilot
from core.tools import default_registry

SEED_TOOLS = {
    "query_assets",
    "compare_versions",
    "check_playbook_drift",
    "generate_patch_plan",
    "cve_feed",
    "risk_score",
    "generate_rollout",
    "check_controls",
    "generate_evidence",
    "query_logs",
    "correlate_events",
    "infra_graph",
    "simulate_failover",
    "billing_data",
    "forecast",
    "recommend",
    "scan_vulns",
    "check_exposure",
    "build_image",
    "validate",
    "promote",
    "generate_sop",
    "validate_sop",
    "execute_sop",
    "discover_api",
    "generate_adapter",
}


def test_the_registry_holds_every_seed_tool_with_schemas_and_a_one_line_description() -> None:
    tools = default_registry().all()

    assert {t.name for t in tools} == SEED_TOOLS
    for spec in tools:
        Draft202012Validator.check_schema(spec.input_schema)
        Draft202012Validator.check_schema(spec.output_schema)
        assert spec.description and "\n" not in spec.description
        assert "summary" in spec.output_schema["required"]


def test_only_build_promote_and_execute_sop_are_write_class_and_none_is_offered_for_planning() -> None:
    registry = default_registry()

    assert {t.name for t in registry.all() if t.risk == "write"} == {"build_image", "promote", "execute_sop"}
    assert {t.risk for t in registry.all()} == {"read", "plan", "write"}
    assert {t.name for t in registry.for_planning()} == SEED_TOOLS - {"build_image", "promote", "execute_sop"}


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("execute_sop", {"steps": [{"name": "wipe", "command": "rm -rf /"}], "environment": "production"}),
        ("build_image", {"image": "ubuntu-base", "version": "9.9.9"}),
        ("promote", {"image": "ubuntu-base", "version": "9.9.9", "environment": "production"}),
    ],
)
async def test_a_write_tool_cannot_run_while_planning(service: OpsPilot, name: str, arguments: dict[str, Any]) -> None:
    trace: list = []

    with pytest.raises(ToolNotAllowed, match="only in the executor after approval"):
        await service.tools.call(name, arguments, service.tool_context, trace=trace)

    assert trace == []


async def test_the_executor_context_may_run_a_write_tool(service: OpsPilot) -> None:
    result = await service.tools.call(
        "promote",
        {"image": "ubuntu-base", "version": "2.4.2", "environment": "staging"},
        service.tool_context,
        allowed_risks=frozenset({"read", "plan", "write"}),
    )

    assert result["summary"] == "ubuntu-base 2.4.2 is golden in staging"
