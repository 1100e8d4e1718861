"""The agent loop on Claude: the model reviews an agent's deterministic draft.

Design: the agent's tools fix the plan's scope (phases, changes, steps, affected assets). The model may call
the agent's read/plan tools to investigate (``ToolRegistry.for_planning``), and must finish with
``submit_review``: a summary, a risk assessment and extra findings, which replace the draft's wording.
Findings that name assets outside what the draft covers lose those assets. A write-class or unknown tool
is refused with an error tool_result and logged. After ``max_steps`` model turns, or on any LLM error, the
draft stands as it is, with a note.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from core.domain import Finding, Usage
from core.errors import LLMError, ToolError
from core.llm.claude import ClaudeChat
from core.llm.prompts import agent_system
from core.tools import ToolCall

if TYPE_CHECKING:
    from core.agents.base import Agent, AgentContext, AgentResult
    from core.domain import TaskSpec

logger = logging.getLogger(__name__)

REVIEW_TOOL = "submit_review"
MAX_TOOL_RESULT_CHARS = 12_000
MAX_LLM_FINDINGS = 10
_SEVERITIES = ["info", "low", "medium", "high", "critical"]


def review_tool() -> dict[str, Any]:
    return {
        "name": REVIEW_TOOL,
        "description": "Finish: the plan summary, risk assessment and extra findings for the person who approves it.",
        "input_schema": {
            "type": "object",
            "required": ["summary", "risk_assessment"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1500},
                "risk_assessment": {"type": "string", "maxLength": 1500},
                "findings": {
                    "type": "array",
                    "maxItems": MAX_LLM_FINDINGS,
                    "items": {
                        "type": "object",
                        "required": ["title"],
                        "properties": {
                            "title": {"type": "string", "maxLength": 300},
                            "severity": {"enum": _SEVERITIES},
                            "detail": {"type": "string", "maxLength": 2000},
                            "assets": {"type": "array", "items": {"type": "string"}},
                            "recommendation": {"type": "string", "maxLength": 1000},
                        },
                    },
                },
            },
        },
    }


class LLMAgentLoop:
    def __init__(self, chat: ClaudeChat, max_steps: int) -> None:
        self.chat = chat
        self.max_steps = max_steps

    async def review(self, agent: Agent, spec: TaskSpec, result: AgentResult, ctx: AgentContext) -> AgentResult:
        assert result.plan is not None
        usage = Usage(provider="anthropic", model=self.chat.model)
        allowed = {t.name for t in ctx.tools.for_planning(agent.tools)}
        catalogue = [t.catalogue_entry() for t in ctx.tools.for_planning(agent.tools)] + [review_tool()]
        system = agent_system(agent.title, agent.description)
        messages: list[dict[str, Any]] = [{"role": "user", "content": _brief(spec, result)}]
        for step in range(1, self.max_steps + 1):
            last = step == self.max_steps
            choice = {"type": "tool", "name": REVIEW_TOOL} if last else {"type": "any"}
            try:
                reply = await self.chat.send(
                    system=system, messages=messages, tools=catalogue, tool_choice=choice, org_id=ctx.org_id
                )
            except LLMError as exc:
                logger.warning("%s review by the model failed: %s; keeping the tool-based plan", agent.name, exc)
                return _finish(result, usage, f"The model review was skipped ({exc}); the plan comes from the tools alone.")
            usage = usage + reply.usage
            calls = reply.tool_uses()
            submitted = next((c for c in calls if c["name"] == REVIEW_TOOL), None)
            if submitted is not None:
                _apply(result, submitted["input"])
                return _finish(result, usage, None)
            if not calls:
                break
            messages.append({"role": "assistant", "content": reply.content})
            messages.append({"role": "user", "content": [await self._run(c, allowed, ctx) for c in calls]})
        logger.info("%s review stopped after %d model turns without a submission", agent.name, self.max_steps)
        return _finish(
            result, usage, f"The model review stopped after {self.max_steps} steps; the plan comes from the tools alone."
        )

    async def _run(self, call: dict[str, Any], allowed: set[str], ctx: AgentContext) -> dict[str, Any]:
        name = call["name"]
        if name not in allowed:
            known = name in ctx.tools
            risk = ctx.tools.get(name).risk if known else None
            reason = (
                f"tool {name!r} is {risk}-class and never runs while planning; it runs only after human approval"
                if risk == "write"
                else f"tool {name!r} is not available to this agent"
            )
            logger.warning("model asked for %s tool %s; refused", risk or "unavailable", name)
            ctx.trace.append(ToolCall(name, dict(call.get("input") or {}), False, 0.0, f"refused: {reason}"))
            return _tool_result(call["id"], reason, error=True)
        try:
            output = await ctx.call(name, **dict(call.get("input") or {}))
        except ToolError as exc:
            return _tool_result(call["id"], str(exc), error=True)
        return _tool_result(call["id"], json.dumps(output, default=str)[:MAX_TOOL_RESULT_CHARS])


def _brief(spec: TaskSpec, result: AgentResult) -> str:
    assert result.plan is not None
    draft = result.plan.payload.to_document()
    for change in draft.get("changes", []):
        (change.get("details") or {}).pop("code", None)
    return (
        f"Task: {json.dumps(spec.to_document())}\n"
        f"Draft plan ({result.plan.type}):\n{json.dumps(draft, default=str)[:MAX_TOOL_RESULT_CHARS]}"
    )


def _tool_result(tool_use_id: str, content: str, *, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if error:
        block["is_error"] = True
    return block


def _apply(result: AgentResult, review: dict[str, Any]) -> None:
    assert result.plan is not None
    payload = result.plan.payload
    covered = (
        set(payload.affected_assets)
        | {a for p in payload.phases for a in p.assets}
        | {a for f in payload.findings for a in (f.assets or [])}
    )
    summary = str(review.get("summary") or "").strip()
    if summary:
        payload.summary = summary[:3000]
        result.message = payload.summary
    if review.get("risk_assessment"):
        payload.risk_assessment = str(review["risk_assessment"])[:3000]
    for raw in (review.get("findings") or [])[:MAX_LLM_FINDINGS]:
        if not isinstance(raw, dict) or not raw.get("title"):
            continue
        severity = raw.get("severity") if raw.get("severity") in _SEVERITIES else None
        assets = [a for a in raw.get("assets") or [] if isinstance(a, str) and a in covered]
        payload.findings.append(
            Finding(
                title=str(raw["title"])[:300],
                severity=severity,
                detail=raw.get("detail") or None,
                assets=assets or None,
                recommendation=raw.get("recommendation") or None,
            )
        )


def _finish(result: AgentResult, usage: Usage, note: str | None) -> AgentResult:
    result.usage = result.usage + usage
    result.note = note
    return result


def loop_for(model: Any, max_steps: int) -> LLMAgentLoop | None:
    """The review loop when the planner is a chat model (Anthropic); None for the offline rules."""
    chat = getattr(model, "chat", None)
    return LLMAgentLoop(chat, max_steps) if isinstance(chat, ClaudeChat) else None
