"""The Anthropic implementation of the planner port: a forced ``emit_task_spec`` tool call whose input is
re-validated against ``schemas/task-spec.schema.json`` and the catalogue, with one repair round."""

from __future__ import annotations

import copy
import logging
from typing import Any

from core.domain import TaskSpec, Usage
from core.errors import SpecError
from core.llm.base import LanguageModel, SpecDraft, SpecRequest
from core.llm.claude import ChatReply, ClaudeChat
from core.llm.prompts import spec_system, spec_user
from core.schemas import errors_for, schema

logger = logging.getLogger(__name__)

SPEC_TOOL = "emit_task_spec"


def spec_tool() -> dict[str, Any]:
    input_schema = copy.deepcopy(schema("task-spec"))
    for key in ("$schema", "$id", "title"):
        input_schema.pop(key, None)
    return {"name": SPEC_TOOL, "description": "Record the TaskSpec for the ask. Call exactly once.", "input_schema": input_schema}


class AnthropicModel(LanguageModel):
    name = "anthropic"

    def __init__(self, chat: ClaudeChat) -> None:
        self.chat = chat

    async def draft_spec(self, request: SpecRequest) -> SpecDraft:
        system = spec_system(request.agents, request.tools)
        ask = spec_user(
            request.text,
            user_id=request.user_id,
            channel_id=request.channel_id,
            default_environment=request.default_environment,
            hint=request.reading.to_document() if request.reading is not None else None,
            chosen_agent=request.agent,
        )
        messages: list[dict[str, Any]] = [{"role": "user", "content": ask}]
        tools = [spec_tool()]
        choice = {"type": "tool", "name": SPEC_TOOL}
        usage = Usage(provider=self.name, model=self.chat.model)
        errors: list[str] = []
        for attempt in (1, 2):
            reply = await self.chat.send(system=system, messages=messages, tools=tools, tool_choice=choice, org_id=request.org_id)
            usage = usage + reply.usage
            document, errors = _read(reply, request)
            if not errors:
                spec = TaskSpec.model_validate(document)
                # The model cannot waive human review, whatever the ask said.
                spec.hitl_required = True
                return SpecDraft(spec=spec, usage=usage, provider=self.name)
            logger.warning("TaskSpec from %s invalid on attempt %d: %s", self.chat.model, attempt, "; ".join(errors[:5]))
            if attempt == 1:
                messages = _repair(messages, reply, errors)
        raise SpecError("the model's TaskSpec was still invalid after one repair attempt", errors)


def _read(reply: ChatReply, request: SpecRequest) -> tuple[dict[str, Any], list[str]]:
    calls = [b for b in reply.tool_uses() if b["name"] == SPEC_TOOL]
    if reply.stop_reason == "max_tokens":
        return {}, ["the output was cut off at the token limit; emit a shorter, complete TaskSpec"]
    if not calls:
        return {}, [f"no {SPEC_TOOL} call in the reply"]
    document = calls[0]["input"]
    errors = errors_for("task-spec", document)
    if errors:
        return document, errors
    known_agents = {a["name"] for a in request.agents}
    known_tools = {t["name"] for t in request.tools}
    if known_agents:
        errors += [
            f"agents: unknown agent {a['name']!r}; use one of {', '.join(sorted(known_agents))}"
            for a in document["agents"]
            if a["name"] not in known_agents
        ]
    if known_tools:
        errors += [f"tools_required: unknown tool {t!r}" for t in document.get("tools_required", []) if t not in known_tools]
    return document, errors


def _repair(messages: list[dict[str, Any]], reply: ChatReply, errors: list[str]) -> list[dict[str, Any]]:
    feedback = (
        "That TaskSpec is not valid:\n"
        + "\n".join(f"- {e}" for e in errors[:20])
        + f"\nCall {SPEC_TOOL} again with a complete, corrected TaskSpec."
    )
    calls = reply.tool_uses()
    if calls:
        answer = [{"type": "tool_result", "tool_use_id": c["id"], "is_error": True, "content": feedback} for c in calls]
        return [*messages, {"role": "assistant", "content": reply.content}, {"role": "user", "content": answer}]
    if reply.content:
        return [*messages, {"role": "assistant", "content": reply.content}, {"role": "user", "content": feedback}]
    first = messages[0]["content"]
    return [{"role": "user", "content": f"{first}\n\n{feedback}"}]
