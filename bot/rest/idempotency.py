"""``Idempotency-Key`` on the REST API's POSTs (``docs/rest-api.md``): a middleware inside the API's gate.

The key is scoped by the token (its SHA-256, never the token) and the route (method and path, so the same key on
two tasks' ``approve`` is two requests). The body is compared by the hash of its canonical JSON (key order and
white space do not matter). Answers below 500 are stored and replayed with ``Idempotent-Replayed: true``; a 5xx is
not stored, so the retry runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.rest.auth import bearer_token
from bot.rest.errors import ApiError, error_response, from_core_error
from core.errors import OpsPilotError
from core.intake.idempotency import IdempotencyKeys, Stored, key_problem

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEPT_HEADERS = ("Location", "Content-Type")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_scope(request: web.Request) -> str:
    token = bearer_token(request.headers.get("Authorization")) or ""
    return "token:" + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:40]


def body_hash(raw: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def idempotency(
    keys: IdempotencyKeys, max_body_bytes: Callable[[web.Request], int]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or request.match_info.http_exception is not None:
            return await handler(request)
        problem = key_problem(key)
        if problem:
            return error_response(
                400, "bad_idempotency_key", f"The {HEADER} header {problem}; send at most 255 visible characters, e.g. a UUID."
            )
        if request.content_length is not None and request.content_length > max_body_bytes(request):
            return await handler(request)  # refused as too large; nothing to remember
        scope, route = token_scope(request), f"{request.method} {request.path}"
        begun = await keys.begin(scope, route, key, body_hash(await request.read()))
        if begun.verdict == "conflict":
            return error_response(
                409,
                "idempotency_key_reused",
                f"This {HEADER} was used on {route} with a different body in the last 24 hours; "
                "send a new key for a new request, or the same body to get the first answer again.",
            )
        if begun.verdict == "in_progress":
            return error_response(
                409,
                "idempotency_key_in_progress",
                f"The first request with this {HEADER} is still being processed; retry in a moment to get its answer.",
                headers={"Retry-After": "1"},
            )
        if begun.verdict == "replay" and begun.stored is not None:
            stored = begun.stored
            headers = {**stored.headers, REPLAYED: "true"}
            return web.Response(status=stored.status, body=stored.body.encode("utf-8"), headers=headers)
        try:
            response = await _answer(request, handler)
        except BaseException:
            await keys.abandon(scope, route, key)
            raise
        if response.status >= 500 or not isinstance(response, web.Response):
            await keys.abandon(scope, route, key)
            return response
        body = response.body if isinstance(response.body, bytes) else b""
        headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        await keys.finish(scope, route, key, Stored(response.status, body.decode("utf-8", "replace"), headers))
        return response

    return middleware


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler's answer, with its refusals turned into responses here, so they are stored too."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except OpsPilotError as exc:
        return from_core_error(exc)
