"""The tool registry: named, schema-checked operations agents call, each with a risk class."""

from core.tools.base import RiskClass, ToolCall, ToolContext, ToolRegistry, ToolSpec, tool

__all__ = ["RiskClass", "ToolCall", "ToolContext", "ToolRegistry", "ToolSpec", "default_registry", "tool"]


def default_registry() -> ToolRegistry:
    from core.tools import drift

    registry = ToolRegistry()
    for spec in drift.TOOLS:
        registry.register(spec)
    return registry
