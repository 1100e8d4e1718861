"""Checks for decoded input from outside (Slack payloads, REST bodies, path ids) before anything stores it.

A JSON document may nest only so deep, and no string in it (key or value) may hold a NUL character or
a lone UTF-16 surrogate: PostgreSQL text refuses both, and nothing a person types needs them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

MAX_JSON_DEPTH = 32
EXCERPT_CHARS = 60


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as text, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not text"
    return None


def structure_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded JSON value is refused (too deep, or a string that is not storable text), or None."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"a string {problem}"
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return f"it nests deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    stack.append((key, depth))
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


_CREDENTIALS = re.compile(r"\b(token|response_url|trigger_id)=[^&\s]*")


def excerpt(text: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable beginning of untrusted input, for a one-line log message."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", "replace")
    # Slack's form bodies start with the legacy verification token and carry signed response URLs: never log those.
    text = _CREDENTIALS.sub(lambda m: f"{m.group(1)}=***", text)
    short = text[:limit].encode("unicode_escape").decode("ascii")
    return short + ("…" if len(text) > limit else "")


class OneLineProtocolErrors(logging.Filter):
    """aiohttp logs a request its HTTP parser refuses (with a 400) with a traceback; anyone could fill the log
    that way. Such a record becomes one warning line with a short excerpt of the reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            reason = " ".join(str(exc.message).split())
            record.msg, record.args = "malformed HTTP request refused with %s: %s", (exc.code, excerpt(reason, 120))
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def quiet_protocol_errors(logger_name: str = "aiohttp.server") -> None:
    """Install :class:`OneLineProtocolErrors` on aiohttp's server logger (once)."""
    target = logging.getLogger(logger_name)
    if not any(isinstance(f, OneLineProtocolErrors) for f in target.filters):
        target.addFilter(OneLineProtocolErrors())
