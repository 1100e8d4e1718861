"""Reading a request to ``/slack/events`` at the edge, before Bolt sees it.

Every way a request can be wrong ends in a :class:`Refusal` (a 4xx with a short JSON reason), never in
an exception: the timestamp and signature headers are checked by hand before the slack_sdk verifier,
the body is strict UTF-8, and a signed payload must have the shape Bolt and OpsPilot's listeners read
(:func:`shape_problem`), so nothing they do with it can raise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.request.internals import parse_body
from yarl import URL

from bot.blocks import REJECT_VIEW
from bot.untrusted import structure_problem

MAX_TIMESTAMP_DIGITS = 12
MAX_SKEW_SECONDS = 5 * 60
MAX_SIGNATURE_CHARS = 128
UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}

NONE = type(None)
TEXT = (str, NONE)
OBJECT = (dict, NONE)
ID_OR_OBJECT = (str, dict, NONE)


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str

    def response(self) -> web.Response:
        return web.json_response({"error": self.code, "message": self.message}, status=self.status)


def header_refusal(headers: Mapping[str, str | None], now: float | None = None) -> Refusal | None:
    """401 unless the timestamp is a few digits within five minutes of now and a ``v0=`` signature is present."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if timestamp is None or signature is None:
        return Refusal(401, "invalid_signature", "X-Slack-Request-Timestamp and X-Slack-Signature are required.")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return Refusal(401, "invalid_signature", "X-Slack-Request-Timestamp must be Unix seconds.")
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_SKEW_SECONDS:
        return Refusal(401, "invalid_signature", "X-Slack-Request-Timestamp is more than five minutes away from now.")
    if not (signature.isascii() and signature.startswith("v0=") and len(signature) <= MAX_SIGNATURE_CHARS):
        return Refusal(401, "invalid_signature", "X-Slack-Signature must be v0=<hex digest>.")
    return None


def decode_body(raw: bytes, charset: str | None) -> str | Refusal:
    """The body as text: Slack sends UTF-8 only, so another charset or invalid UTF-8 is refused."""
    if charset is not None and charset.strip().lower() not in UTF8_NAMES:
        return Refusal(415, "unsupported_charset", "The body must be UTF-8.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "invalid_encoding", "The body is not valid UTF-8.")


def payload_refusal(text: str, content_type: str | None) -> Refusal | None:
    """400 unless Bolt can parse the body into a payload of a shape OpsPilot reads safely."""
    try:
        payload = parse_body(text, content_type)  # exactly what Bolt will do with it
    except (ValueError, RecursionError):
        return Refusal(400, "unreadable_request", "The body is neither a form, a payload= form nor JSON.")
    if not isinstance(payload, dict):
        return Refusal(400, "unreadable_request", f"The payload must be a JSON object, not {type(payload).__name__}.")
    problem = structure_problem(payload) or shape_problem(payload)
    if problem:
        return Refusal(400, "unreadable_request", f"The payload is malformed: {problem}.")
    return None


# -- shapes ------------------------------------------------------------------------------------------

# Keys Bolt's context builders read at every level they descend into (slack_bolt.request.internals).
_CONTEXT_FIELDS: dict[str, tuple[type, ...]] = {
    "type": TEXT,
    "subtype": TEXT,
    "user": ID_OR_OBJECT,
    "user_id": TEXT,
    "channel": ID_OR_OBJECT,
    "channel_id": TEXT,
    "team": ID_OR_OBJECT,
    "team_id": TEXT,
    "enterprise": ID_OR_OBJECT,
    "enterprise_id": TEXT,
    "thread_ts": TEXT,
    "user_team": TEXT,
    "context_team_id": TEXT,
    "context_enterprise_id": TEXT,
    "is_ext_shared_channel": (bool, NONE),
    "is_enterprise_install": (bool, str, NONE),
    "function_execution_id": TEXT,
    "bot_access_token": TEXT,
    "bot_id": TEXT,
    "authorizations": (list, NONE),
    "response_urls": (list, NONE),
    "view": OBJECT,
    "function_data": OBJECT,
    "event": OBJECT,
    "message": OBJECT,
    "previous_message": OBJECT,
    "item": OBJECT,
    "assistant_thread": OBJECT,
    "command": TEXT,
    "text": TEXT,
    "response_url": TEXT,
    "trigger_id": TEXT,
    "callback_id": TEXT,
    "action_id": TEXT,
    "challenge": TEXT,
    "ssl_check": TEXT,
    "token": TEXT,
    "api_app_id": TEXT,
    "actions": (list, NONE),
    "container": (dict,),
    "state": OBJECT,
    "private_metadata": TEXT,
    "tab": TEXT,
    "value": TEXT,
    "block_id": TEXT,
    "id": TEXT,
}
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")
_OWN_IDS = {
    "id": TEXT,
    "team_id": TEXT,
    "channel_id": TEXT,
    "enterprise_id": TEXT,
    "app_installed_team_id": TEXT,
    "execution_id": TEXT,
}
_ACTION = {"action_id": (str,), "block_id": TEXT, "value": (str,), "type": TEXT}
_VIEW = {"callback_id": (str,), "private_metadata": TEXT, "state": OBJECT}


def _type_name(types: tuple[type, ...]) -> str:
    names = {str: "a string", dict: "an object", list: "a list", bool: "true/false", NONE: "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _fields(obj: dict, where: str, spec: Mapping[str, tuple[type, ...]]) -> str | None:
    for key, types in spec.items():
        if key in obj and not isinstance(obj[key], types):
            return f"{where}{key} must be {_type_name(types)}"
    return None


def _required_text(obj: Any, where: str, *keys: str) -> str | None:
    if not isinstance(obj, dict):
        return f"{where.rstrip('.')} must be an object"
    for key in keys:
        if not isinstance(obj.get(key), str) or not obj[key]:
            return f"{where}{key} must be a non-empty string"
    return None


def _context_problem(obj: dict, where: str) -> str | None:
    problem = _fields(obj, where, _CONTEXT_FIELDS)
    if problem:
        return problem
    for key in ("user", "channel", "team", "enterprise", "view", "function_data", "container"):
        if isinstance(obj.get(key), dict):
            problem = _fields(obj[key], f"{where}{key}.", _OWN_IDS)
            if problem:
                return problem
    for key in ("authorizations", "response_urls"):
        for n, entry in enumerate(obj.get(key) or ()):
            if not isinstance(entry, dict):
                return f"{where}{key}[{n}] must be an object"
            problem = _context_problem(entry, f"{where}{key}[{n}].")
            if problem:
                return problem
    for key in _NESTED:
        if isinstance(obj.get(key), dict):
            problem = _context_problem(obj[key], f"{where}{key}.")
            if problem:
                return problem
    return None


def shape_problem(payload: dict) -> str | None:
    """What in a parsed payload Bolt or a listener could not read, or None."""
    problem = _context_problem(payload, "")
    if problem:
        return problem
    kind = payload.get("type")
    if "command" in payload:
        not_text = next((k for k, v in payload.items() if not isinstance(v, str)), None)
        if not_text is not None:
            return f"slash command field {not_text} must be a string"
        return _required_text(payload, "", "command", "user_id", "channel_id", "response_url") or _url_problem(
            payload["response_url"], "response_url"
        )
    if kind == "block_actions":
        problem = _required_text(payload.get("user"), "user.", "id")
        actions = payload.get("actions")
        if problem or not actions:
            return problem or "actions must hold at least one action"
        for n, action in enumerate(actions):
            problem = _required_text(action, f"actions[{n}].", "action_id") or _fields(action, f"actions[{n}].", _ACTION)
            if problem:
                return problem
        if isinstance(payload.get("channel"), str):
            return "channel must be an object"
        return None
    if kind in ("view_submission", "view_closed"):
        return _required_text(payload.get("user"), "user.", "id") or _view_problem(payload.get("view"))
    if kind == "event_callback":
        event = payload.get("event")
        problem = _required_text(event, "event.", "type")
        if problem:
            return problem
        assert isinstance(event, dict)  # _required_text answered a problem otherwise
        if event["type"] in ("app_mention", "app_home_opened", "message"):
            problem = _fields(event, "event.", {"user": TEXT, "channel": TEXT})
            if problem:
                return problem
        if event["type"] == "app_home_opened":
            return _required_text(event, "event.", "user")
        return None
    if kind == "url_verification":
        return _required_text(payload, "", "challenge")
    return None


def _url_problem(value: str, where: str) -> str | None:
    """Listeners answer through ``response_url``; it must be an http(s) URL with a host."""
    try:
        url = URL(value)
    except (ValueError, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or any(c.isspace() for c in value):
        return f"{where} must be an http(s) URL"
    return None


def _view_problem(view: Any) -> str | None:
    problem = _required_text(view, "view.", "callback_id") or _fields(view, "view.", _VIEW)
    if problem:
        return problem
    values = (view.get("state") or {}).get("values")
    if values is not None and not isinstance(values, dict):
        return "view.state.values must be an object"
    for block_id, block in (values or {}).items():
        if not isinstance(block, dict) or not all(
            isinstance(a, dict) and isinstance(a.get("value"), TEXT) for a in block.values()
        ):
            return f"view.state.values.{block_id[:40]} must map action ids to objects with a string value"
    if view["callback_id"] != REJECT_VIEW or not view.get("private_metadata"):
        return None
    try:
        meta = json.loads(view["private_metadata"])
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict) or structure_problem(meta) or _fields(meta, "", {"plan_id": TEXT, "channel_id": TEXT}):
        return "view.private_metadata is not the one OpsPilot set"
    return None
