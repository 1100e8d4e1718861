"""Block Kit validation with Slack's limits, reported in Slack's `[ERROR] ... [json-pointer:...]` style."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


def block_errors(blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS, surface: str = "blocks") -> list[str]:
    """Everything Slack would reject in `blocks`; an empty list means valid."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:/{surface}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/{surface}]")
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"/{surface}/{index}"
        if not isinstance(block, dict):
            errors.append(f"[ERROR] must be an object [json-pointer:{pointer}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen_block_ids:
                errors.append(f"[ERROR] duplicate block_id {block_id!r} [json-pointer:{pointer}/block_id]")
            seen_block_ids.add(block_id)
            if len(str(block_id)) > 255:
                errors.append(f"[ERROR] must be less than 256 characters [json-pointer:{pointer}/block_id]")
        errors.extend(_block_errors(block, pointer))
    return errors


def _block_errors(block: dict[str, Any], pointer: str) -> Iterator[str]:
    kind = block.get("type")
    if kind not in KNOWN_BLOCK_TYPES:
        yield f"[ERROR] unsupported type: {kind!r} [json-pointer:{pointer}/type]"
        return
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            yield f"[ERROR] must provide either text or fields [json-pointer:{pointer}]"
        if text is not None:
            yield from _text_errors(text, f"{pointer}/text", max_len=3000)
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                yield f"[ERROR] no more than 10 items allowed [json-pointer:{pointer}/fields]"
            else:
                for i, item in enumerate(fields):
                    yield from _text_errors(item, f"{pointer}/fields/{i}", max_len=2000)
        if isinstance(block.get("accessory"), dict):
            yield from _element_errors(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        text = block.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            yield f"[ERROR] must be a plain_text object [json-pointer:{pointer}/text]"
        else:
            yield from _text_errors(text, f"{pointer}/text", max_len=150)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            yield f"[ERROR] must provide a non-empty array [json-pointer:{pointer}/elements]"
        elif len(elements) > 10:
            yield f"[ERROR] no more than 10 items allowed [json-pointer:{pointer}/elements]"
        else:
            for i, element in enumerate(elements):
                if isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                    yield from _text_errors(element, f"{pointer}/elements/{i}", max_len=3000)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            yield f"[ERROR] must provide a non-empty array [json-pointer:{pointer}/elements]"
        elif len(elements) > 25:
            yield f"[ERROR] no more than 25 items allowed [json-pointer:{pointer}/elements]"
        else:
            for i, element in enumerate(elements):
                yield from _element_errors(element, f"{pointer}/elements/{i}")
    elif kind == "image":
        if not block.get("image_url") and not block.get("slack_file"):
            yield f"[ERROR] must provide image_url [json-pointer:{pointer}/image_url]"
        if not block.get("alt_text"):
            yield f"[ERROR] must provide alt_text [json-pointer:{pointer}/alt_text]"
    elif kind == "input":
        label = block.get("label")
        if not isinstance(label, dict):
            yield f"[ERROR] must provide a label [json-pointer:{pointer}/label]"
        else:
            yield from _text_errors(label, f"{pointer}/label", max_len=2000)
        if not isinstance(block.get("element"), dict):
            yield f"[ERROR] must provide an element [json-pointer:{pointer}/element]"


def _element_errors(element: Any, pointer: str) -> Iterator[str]:
    if not isinstance(element, dict):
        yield f"[ERROR] must be an object [json-pointer:{pointer}]"
        return
    action_id = element.get("action_id")
    if action_id is not None and len(str(action_id)) > 255:
        yield f"[ERROR] must be less than 256 characters [json-pointer:{pointer}/action_id]"
    if element.get("type") == "button":
        yield from _text_errors(element.get("text"), f"{pointer}/text", max_len=75, plain_only=True)
        value = element.get("value")
        if value is not None and len(str(value)) > 2000:
            yield f"[ERROR] must be less than 2001 characters [json-pointer:{pointer}/value]"
        style = element.get("style")
        if style is not None and style not in ("primary", "danger"):
            yield f"[ERROR] must be one of primary, danger [json-pointer:{pointer}/style]"


def _text_errors(text: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> Iterator[str]:
    if not isinstance(text, dict):
        yield f"[ERROR] must be a text object [json-pointer:{pointer}]"
        return
    kind = text.get("type")
    allowed = {"plain_text"} if plain_only else TEXT_TYPES
    if kind not in allowed:
        yield f"[ERROR] must be one of {', '.join(sorted(allowed))} [json-pointer:{pointer}/type]"
    content = text.get("text")
    if not isinstance(content, str) or not content:
        yield f"[ERROR] must be a non-empty string [json-pointer:{pointer}/text]"
    elif len(content) > max_len:
        yield f"[ERROR] must be less than {max_len + 1} characters [json-pointer:{pointer}/text]"


def view_errors(view: Any, *, expected_type: str) -> list[str]:
    """What Slack would reject in a modal or home view."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    errors: list[str] = []
    if view.get("type") != expected_type:
        errors.append(f"[ERROR] must be {expected_type!r} [json-pointer:/view/type]")
    if expected_type == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or title.get("type") != "plain_text":
            errors.append("[ERROR] must provide a plain_text title [json-pointer:/view/title]")
        else:
            errors.extend(_text_errors(title, "/view/title", max_len=24, plain_only=True))
        for key in ("submit", "close"):
            if view.get(key) is not None:
                errors.extend(_text_errors(view[key], f"/view/{key}", max_len=24, plain_only=True))
        blocks = view.get("blocks", [])
        if isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks):
            if view.get("submit") is None:
                errors.append("[ERROR] must provide submit when using input blocks [json-pointer:/view/submit]")
    private_metadata = view.get("private_metadata")
    if private_metadata is not None and len(str(private_metadata)) > 3000:
        errors.append("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
    errors.extend(block_errors(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS, surface="view/blocks"))
    return errors


def with_generated_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of `blocks` with the block_id/action_id values Slack fills in when they are missing."""
    completed: list[dict[str, Any]] = []
    for original in blocks:
        block = dict(original)
        block.setdefault("block_id", _random_id())
        if block.get("type") == "actions" and isinstance(block.get("elements"), list):
            block["elements"] = [_with_action_id(e) for e in block["elements"]]
        if isinstance(block.get("accessory"), dict):
            block["accessory"] = _with_action_id(block["accessory"])
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            block["element"] = _with_action_id(block["element"])
        completed.append(block)
    return completed


def _with_action_id(element: Any) -> Any:
    if isinstance(element, dict) and element.get("type") not in ("image", None) and "action_id" not in element:
        return {**element, "action_id": _random_id()}
    return element


def _random_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(5))
