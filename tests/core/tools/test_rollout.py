from __future__ import annotations

import math

import pytest

from core.tools.rollout import build_phases, estimate_duration, rules_for


@pytest.mark.parametrize("count", [1, 3, 9, 14, 47, 100, 333])
def test_production_canary_is_at_most_five_and_ten_percent_and_waves_at_most_twenty_percent(count) -> None:
    assets = [f"a{i}" for i in range(count)]
    phases = build_phases(assets, rules_for("production"))
    canary, waves = phases[0], phases[1:]
    assert canary["name"] == "Canary"
    assert len(canary["assets"]) <= 5
    assert len(canary["assets"]) <= max(1, math.floor(count * 0.10))
    for wave in waves:
        assert len(wave["assets"]) <= max(1, math.floor(count * 0.20))
    assert [a for p in phases for a in p["assets"]] == assets, "every asset exactly once, in order"
    for phase in phases:
        assert phase["health_checks"] and phase["rollback_if"]
    assert "wait_time" not in phases[-1]
    assert all("wait_time" in p for p in phases[:-1])


def test_no_assets_means_no_phases() -> None:
    assert build_phases([], rules_for("production")) == []


def test_max_batch_percent_can_only_tighten_the_waves() -> None:
    assets = [f"a{i}" for i in range(50)]
    tight = build_phases(assets, rules_for("production", max_batch_percent=10))
    loose = build_phases(assets, rules_for("production", max_batch_percent=90))
    assert max(len(p["assets"]) for p in tight[1:]) == 5
    assert max(len(p["assets"]) for p in loose[1:]) == 10


def test_estimated_duration_adds_waits() -> None:
    phases = build_phases([f"a{i}" for i in range(10)], rules_for("production"))
    assert estimate_duration(phases, rules_for("production")).startswith("1h")
