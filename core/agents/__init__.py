"""Specialist agents: each turns a TaskSpec into a Plan (or a report) by calling registry tools."""

from core.agents.base import Agent, AgentContext, AgentResult, AgentRegistry

__all__ = ["Agent", "AgentContext", "AgentRegistry", "AgentResult", "default_agents"]


def default_agents() -> AgentRegistry:
    from core.agents.drift import DriftAgent

    return AgentRegistry([DriftAgent()])
