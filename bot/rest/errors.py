"""Every REST error is ``{"error": {"code": "...", "message": "what was wrong and what would work"}}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from core.errors import IllegalTransition, InvalidAsk, NotAllowed, NotFound, OpsPilotError

logger = logging.getLogger(__name__)

DOCS = "docs/rest-api.md"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, headers=self.headers, **self.extra)


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> web.Response:
    body = {"error": {"code": code, "message": message, **extra}}
    return web.json_response(body, status=status, headers=headers, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (no such route, wrong method, body too large) in the API's error shape."""
    if exc.status == 404:
        return error_response(
            404, "no_such_route", f"There is no API route {request.method} {request.path}; the routes are listed in {DOCS}."
        )
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        return error_response(
            405,
            "method_not_allowed",
            f"{request.path} does not take {request.method}; use {', '.join(allowed) or 'another method'}.",
            headers={"Allow": ", ".join(allowed)} if allowed else None,
        )
    if exc.status == 413:
        return error_response(413, "payload_too_large", "The request body is too large; send one small JSON object.")
    return error_response(exc.status, "http_error", exc.reason or "The request was refused.")


def from_core_error(exc: OpsPilotError) -> web.Response:
    """Core errors that reach a handler (most calls return outcomes instead of raising)."""
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", f"{exc}; list what exists with GET /api/v1/ai/tasks.")
    if isinstance(exc, IllegalTransition):
        return error_response(409, "conflict", f"{exc}; fetch the current state and try what it allows.")
    if isinstance(exc, NotAllowed):
        return error_response(403, "forbidden", str(exc))
    if isinstance(exc, InvalidAsk):
        return error_response(422, "unknown_ask", str(exc))
    logger.error("REST API call failed: %s", exc)
    return error_response(500, "internal_error", "OpsPilot could not complete the call; the server log has the details.")
