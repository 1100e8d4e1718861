from __future__ import annotations

import pytest

from core.domain.states import TRANSITIONS, check_transition
from core.errors import IllegalTransition


@pytest.mark.parametrize(
    ("kind", "current", "target"),
    [
        ("task", "created", "parsing"),
        ("task", "parsing", "failed"),
        ("plan", "validated", "draft"),
        ("plan", "awaiting_approval", "approved"),
        ("plan", "draft", "superseded"),
        ("run", "executing", "rolled_back"),
        ("run", "paused", "executing"),
    ],
)
def test_transitions_of_the_seed_state_machines_are_allowed(kind, current, target) -> None:
    check_transition(kind, "id", current, target)


@pytest.mark.parametrize(
    ("kind", "current", "target"),
    [
        ("task", "planned", "parsing"),
        ("plan", "draft", "approved"),
        ("plan", "rejected", "approved"),
        ("plan", "approved", "rejected"),
        ("run", "completed", "executing"),
        ("run", "queued", "completed"),
    ],
)
def test_other_transitions_are_illegal(kind, current, target) -> None:
    with pytest.raises(IllegalTransition, match=f"from '{current}' to '{target}'"):
        check_transition(kind, "id", current, target)


def test_terminal_states_have_no_way_out() -> None:
    for kind, table in TRANSITIONS.items():
        for state in ("approved", "rejected", "superseded", "completed", "rolled_back", "failed", "planned"):
            if state in table:
                assert table[state] == frozenset(), (kind, state)
