"""The boundary to the Anthropic Messages API: budget check, prompt caching, usage, error translation.

Everything above this module sees plain dict content blocks, :class:`Usage` and :class:`LLMError`;
nothing above it imports the SDK.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anthropic

from core.domain import Usage
from core.errors import LLMError
from core.llm.budget import TokenBudget
from core.llm.pricing import cost_usd

logger = logging.getLogger(__name__)

CACHED = {"type": "ephemeral"}


@dataclass
class ChatReply:
    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: Usage = field(default_factory=Usage)

    def tool_uses(self) -> list[dict[str, Any]]:
        return [block for block in self.content if block.get("type") == "tool_use"]

    def text(self) -> str:
        return "\n".join(block["text"] for block in self.content if block.get("type") == "text")


class ClaudeChat:
    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        model: str,
        max_output_tokens: int,
        budget: TokenBudget | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.budget = budget

    async def send(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        tool_choice: dict[str, Any] | None = None,
        org_id: str = "default",
    ) -> ChatReply:
        """One Messages API call. The system prompt and the tool list are the stable prefix, marked for caching."""
        if self.budget is not None:
            await self.budget.check(org_id)
        cached_tools = [*tools[:-1], {**tools[-1], "cache_control": CACHED}] if tools else []
        arguments: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_output_tokens,
            "system": [{"type": "text", "text": system, "cache_control": CACHED}],
            "messages": messages,
        }
        if cached_tools:
            arguments["tools"] = cached_tools
        if tool_choice is not None:
            arguments["tool_choice"] = tool_choice
        try:
            message = await self.client.messages.create(**arguments)
        except anthropic.APIStatusError as exc:
            raise LLMError(f"Anthropic API error {exc.status_code}: {_reason(exc)}") from exc
        except anthropic.APITimeoutError as exc:
            raise LLMError("Anthropic API timed out") from exc
        except anthropic.APIConnectionError as exc:
            raise LLMError(f"cannot reach the Anthropic API: {exc}") from exc
        except anthropic.AnthropicError as exc:
            raise LLMError(f"Anthropic client error: {exc}") from exc
        usage = self._usage(message)
        if self.budget is not None:
            await self.budget.record(org_id, usage)
        logger.info(
            "anthropic %s: stop=%s in=%d out=%d cache_read=%d cache_write=%d",
            self.model,
            message.stop_reason,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )
        return ChatReply(content=[_plain(block) for block in message.content], stop_reason=message.stop_reason, usage=usage)

    def _usage(self, message: Any) -> Usage:
        raw = message.usage
        input_tokens, output_tokens = raw.input_tokens or 0, raw.output_tokens or 0
        cache_write, cache_read = raw.cache_creation_input_tokens or 0, raw.cache_read_input_tokens or 0
        return Usage(
            provider="anthropic",
            model=message.model or self.model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            cost_usd=cost_usd(self.model, input_tokens, output_tokens, cache_write, cache_read),
        )


def _plain(block: Any) -> dict[str, Any]:
    """The SDK's content block as the dict we send back in the next turn (text and tool_use only)."""
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": dict(block.input or {})}
    return {"type": block.type}


def _reason(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    raw_error = body.get("error")
    error = raw_error if isinstance(raw_error, dict) else {}
    kind, message = error.get("type"), error.get("message")
    if kind or message:
        return f"{kind or 'error'}: {message or ''}".strip()
    return str(exc)
