"""`/ops agents`, `/ops tools` and the abilities `/ops help` lists: what OpsPilot can do, listed from the live registries."""

from __future__ import annotations

from core.service import OpsPilot

RISK_ICONS = {"read": ":mag:", "plan": ":memo:", "write": ":warning:"}


def abilities(service: OpsPilot) -> list[tuple[str, str]]:
    """What the live registry can do, for ``/ops help``: each agent's title and one-line description."""
    return [(agent.title, agent.description) for agent in service.agents.all()]


def agents_text(service: OpsPilot) -> str:
    lines = ["*Agents*"]
    for agent in service.agents.all():
        lines.append(f"• *{agent.title}* ({agent.name}): {agent.description} Tools: {', '.join(agent.tools)}")
    return "\n".join(lines)


def tools_text(service: OpsPilot) -> str:
    lines = ["*Tools* (:mag: read · :memo: plan · :warning: write: only the executor runs these, after approval)"]
    for tool in service.tools.all():
        lines.append(f"• {RISK_ICONS.get(tool.risk, '')} `{tool.name}` ({tool.risk}): {tool.description}")
    return "\n".join(lines)
