"""The tool registry: named, schema-checked operations agents call, each with a risk class."""

from core.tools.base import RiskClass, ToolCall, ToolContext, ToolRegistry, ToolSpec, tool

__all__ = ["RiskClass", "ToolCall", "ToolContext", "ToolRegistry", "ToolSpec", "default_registry", "tool"]


def default_registry() -> ToolRegistry:
    from core.tools import adapter, compliance, cost, dr, drift, image, incident, patch, security, sop

    registry = ToolRegistry()
    for module in (drift, patch, compliance, incident, dr, cost, security, image, sop, adapter):
        for spec in module.TOOLS:
            registry.register(spec)
    return registry
