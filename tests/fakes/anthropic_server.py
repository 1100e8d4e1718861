"""A loopback fake of the Anthropic Messages API (``POST /v1/messages``) for the real SDK to talk to.

Replies are scripted in order (``queue``); when the script is empty a ``responder`` (if any) answers from
the request. Every request body and its headers are kept in ``requests`` for assertions.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[dict[str, Any]], Awaitable[Reply]]
_ids = itertools.count(1)


def message(
    content: list[dict[str, Any]],
    stop_reason: str,
    *,
    input_tokens: int = 120,
    output_tokens: int = 40,
    cache_read: int = 0,
    cache_write: int = 0,
    model: str = "claude-sonnet-4-6",
) -> Reply:
    return Reply(
        200,
        {
            "id": f"msg_fake{next(_ids):04d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
            },
        },
    )


def text(words: str, **usage: Any) -> Reply:
    return message([{"type": "text", "text": words}], "end_turn", **usage)


def tool_use(name: str, arguments: dict[str, Any], *, stop_reason: str = "tool_use", **usage: Any) -> Reply:
    return message(
        [{"type": "tool_use", "id": f"toolu_fake{next(_ids):04d}", "name": name, "input": arguments}], stop_reason, **usage
    )


def truncated(name: str, partial: dict[str, Any], **usage: Any) -> Reply:
    """What a reply cut off by max_tokens looks like: stop_reason max_tokens and an incomplete tool input."""
    return tool_use(name, partial, stop_reason="max_tokens", **usage)


def error(status: int, kind: str, text_: str, *, retry_after: str | None = None) -> Reply:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return Reply(status, {"type": "error", "error": {"type": kind, "message": text_}}, headers)


def rate_limited(retry_after: str = "0.01") -> Reply:
    return error(
        429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", retry_after=retry_after
    )


def overloaded(retry_after: str = "0.01") -> Reply:
    return error(529, "overloaded_error", "Overloaded", retry_after=retry_after)


class FakeAnthropic(LoopbackServer):
    def __init__(self, responder: Responder | None = None) -> None:
        self.queue: deque[Reply] = deque()
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def script(self, *replies: Reply) -> FakeAnthropic:
        self.queue.extend(replies)
        return self

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if not (request.headers.get("x-api-key") or request.headers.get("authorization", "").startswith("Bearer ")):
            reply = error(401, "authentication_error", "an API key is required (x-api-key or Authorization: Bearer)")
        elif self.queue:
            reply = self.queue.popleft()
        elif self.responder is not None:
            reply = await self.responder(body)
        else:
            reply = error(500, "api_error", "the fake has no scripted reply left")
        return web.Response(
            status=reply.status,
            text=json.dumps(reply.body),
            content_type="application/json",
            headers={**reply.headers, "request-id": f"req_fake{len(self.requests):04d}"},
        )

    def tool_results(self, index: int = -1) -> list[dict[str, Any]]:
        """The tool_result blocks of the last user turn of request ``index``."""
        content = self.requests[index]["messages"][-1]["content"]
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(content, list) else []
