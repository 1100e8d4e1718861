"""Turns test-friendly modal input values into Slack's `view.state.values` shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

StateValues = dict[str, dict[str, dict[str, Any]]]


def input_elements(view: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(block_id, action_id) -> element, for every input block of the view."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for block in view.get("blocks", []):
        element = block.get("element")
        if block.get("type") == "input" and isinstance(element, dict):
            found[(str(block.get("block_id")), str(element.get("action_id")))] = element
    return found


def state_values(view: Mapping[str, Any], values: Mapping[str, Any]) -> StateValues:
    """Slack-shaped state for `values`.

    `values` is either Slack-shaped ({block_id: {action_id: {...}}}), or simplified:
    {block_id: {action_id: "plain value"}} or flat {action_id: "plain value"}. Inputs the
    caller leaves out keep their initial value (or null), as Slack reports them.
    """
    elements = input_elements(view)
    by_action = {action_id: (block_id, action_id) for block_id, action_id in elements}
    state: StateValues = {}
    for (block_id, action_id), element in elements.items():
        state.setdefault(block_id, {})[action_id] = _entry(element, _initial(element))
    for key, value in values.items():
        if isinstance(value, Mapping):
            for action_id, action_value in value.items():
                element = elements.get((key, action_id), {})
                state.setdefault(key, {})[action_id] = (
                    dict(action_value) if isinstance(action_value, Mapping) else _entry(element, action_value)
                )
        elif key in by_action:
            block_id, action_id = by_action[key]
            state[block_id][action_id] = _entry(elements[(block_id, action_id)], value)
        else:
            raise KeyError(f"no input with action_id {key!r} in view {view.get('id')}; have {sorted(by_action)}")
    return state


def _initial(element: Mapping[str, Any]) -> Any:
    for key in (
        "initial_value",
        "initial_option",
        "initial_options",
        "initial_user",
        "initial_users",
        "initial_conversation",
        "initial_channel",
        "initial_date",
    ):
        if key in element:
            value = element[key]
            if isinstance(value, Mapping):
                return value.get("value")
            if isinstance(value, list):
                return [v.get("value") if isinstance(v, Mapping) else v for v in value]
            return value
    return None


def _entry(element: Mapping[str, Any], value: Any) -> dict[str, Any]:
    kind = str(element.get("type", "plain_text_input"))
    if kind in ("static_select", "radio_buttons", "external_select"):
        return {"type": kind, "selected_option": _option(element, value)}
    if kind in ("multi_static_select", "checkboxes"):
        chosen = value if isinstance(value, list) else ([] if value is None else [value])
        return {"type": kind, "selected_options": [o for v in chosen if (o := _option(element, v))]}
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": list(value or [])}
    if kind == "conversations_select":
        return {"type": kind, "selected_conversation": value}
    if kind == "channels_select":
        return {"type": kind, "selected_channel": value}
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    return {"type": kind, "value": None if value is None else str(value)}


def _option(element: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    for option in options:
        if option.get("value") == value:
            return dict(option)
    raise KeyError(f"option {value!r} not offered by {element.get('action_id')}")
