"""The state machines of Task, Plan and Run. Anything not listed here is an illegal transition."""

from __future__ import annotations

from typing import Literal

from core.errors import IllegalTransition

EntityKind = Literal["task", "plan", "run"]

TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "task": {
        "created": frozenset({"parsing"}),
        "parsing": frozenset({"planned", "failed"}),
        "planned": frozenset(),
        "failed": frozenset(),
    },
    "plan": {
        "draft": frozenset({"validated", "superseded"}),
        "validated": frozenset({"awaiting_approval", "draft", "superseded"}),
        "awaiting_approval": frozenset({"approved", "rejected", "superseded"}),
        "approved": frozenset(),
        "rejected": frozenset(),
        "superseded": frozenset(),
    },
    "run": {
        # queued -> failed: the plan no longer passes validation when the run is about to start.
        "queued": frozenset({"executing", "failed"}),
        "executing": frozenset({"completed", "paused", "rolled_back", "failed"}),
        # paused -> rolled_back: a person aborts a paused run and its changes are reverted.
        "paused": frozenset({"executing", "rolled_back", "failed"}),
        "completed": frozenset(),
        "rolled_back": frozenset(),
        "failed": frozenset(),
    },
}

INITIAL_STATE = {"task": "created", "plan": "draft", "run": "queued"}
TERMINAL_RUN_STATES = frozenset({"completed", "rolled_back", "failed"})


def check_transition(kind: str, entity_id: str, current: str, target: str) -> None:
    if target not in TRANSITIONS[kind].get(current, frozenset()):
        raise IllegalTransition(kind, entity_id, current, target)
