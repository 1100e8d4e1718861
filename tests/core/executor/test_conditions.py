from __future__ import annotations

import pytest

from core.executor.conditions import parse_condition, threshold_holds


@pytest.mark.parametrize(
    ("text", "metrics", "holds"),
    [
        ("error_rate > 1%", {"error_rate": 1.5}, True),
        ("error_rate > 1%", {"error_rate": 0.5}, False),
        ("error_rate > 1% or latency_p99 > 500ms", {"error_rate": 0.1, "latency_p99": 700}, True),
        ("error_rate > 1% and latency_p99 > 0.5s", {"error_rate": 2, "latency_p99": 400}, False),
        ("cpu >= 90% || restarts > 3", {"cpu": 10, "restarts": 4}, True),
        ("error_rate > 1%", {}, False),
    ],
)
def test_conditions_evaluate_against_measured_metrics(text, metrics, holds) -> None:
    assert parse_condition(text).holds(metrics) is holds


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty condition"),
        ("rm -rf /", "write '<metric> <op> <number>'"),
        ("karma > 3", "unknown metric"),
        ("error_rate > 1ms", "measured in %"),
        ("error_rate >", "cannot read"),
    ],
)
def test_bad_conditions_are_refused_with_a_hint(text, problem) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_condition(text)


def test_thresholds_use_the_same_grammar() -> None:
    assert threshold_holds("error_rate", "< 1%", {"error_rate": 0.2})
    assert not threshold_holds("latency_p99", "< 300ms", {"latency_p99": 480})
    with pytest.raises(ValueError):
        threshold_holds("error_rate", "about one percent", {"error_rate": 0.2})
