"""Specialist agents: each turns a TaskSpec into a Plan (or a report) by calling registry tools."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.agents.base import Agent, AgentContext, AgentRegistry, AgentResult

if TYPE_CHECKING:
    from core.agents.llm_loop import LLMAgentLoop

__all__ = ["Agent", "AgentContext", "AgentRegistry", "AgentResult", "all_agents", "default_agents"]


def all_agents() -> list[Agent]:
    from core.agents.adapter import AdapterAgent
    from core.agents.compliance import ComplianceAgent
    from core.agents.cost import CostAgent
    from core.agents.dr import DRAgent
    from core.agents.drift import DriftAgent
    from core.agents.image import ImageAgent
    from core.agents.incident import IncidentAgent
    from core.agents.patch import PatchAgent
    from core.agents.security import SecurityAgent
    from core.agents.sop import SOPAgent

    return [
        DriftAgent(),
        PatchAgent(),
        ComplianceAgent(),
        IncidentAgent(),
        DRAgent(),
        CostAgent(),
        SecurityAgent(),
        ImageAgent(),
        SOPAgent(),
        AdapterAgent(),
    ]


def default_agents(loop: LLMAgentLoop | None = None) -> AgentRegistry:
    return AgentRegistry(all_agents(), loop=loop)
