"""Rollback conditions and health thresholds: ``error_rate > 1%``, ``latency_p99 > 500ms or cpu > 90%``.

A tiny grammar on purpose: comparisons of a known metric with a number, joined by ``and`` / ``or``
(``and`` binds tighter). Anything else is rejected with a message saying what would work.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

METRICS = {
    "error_rate": "%",  # percent of failed requests
    "latency_p99": "ms",  # milliseconds
    "cpu": "%",  # percent
    "http_ok": "%",  # percent of assets answering 200 on the health target
    "restarts": "",  # count
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_TERM = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*(%|ms|s)?\s*$")
_THRESHOLD = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*(%|ms|s)?\s*$")


@dataclass(frozen=True)
class Comparison:
    metric: str
    op: str
    value: float

    def holds(self, metrics: Mapping[str, float]) -> bool:
        if self.metric not in metrics:
            return False
        return _OPS[self.op](metrics[self.metric], self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}{METRICS[self.metric]}"


@dataclass(frozen=True)
class Condition:
    """Disjunction of conjunctions of comparisons."""

    any_of: tuple[tuple[Comparison, ...], ...]
    source: str

    def holds(self, metrics: Mapping[str, float]) -> bool:
        return any(all(c.holds(metrics) for c in group) for group in self.any_of)

    def explain(self, metrics: Mapping[str, float]) -> str:
        held = [" and ".join(str(c) for c in g) for g in self.any_of if all(c.holds(metrics) for c in g)]
        seen = ", ".join(f"{k}={v:g}{METRICS.get(k, '')}" for k, v in metrics.items() if k in METRICS)
        return f"{' or '.join(held)} (measured {seen})"


def _value(number: str, unit: str | None, metric: str, source: str) -> float:
    value = float(number)
    expected = METRICS[metric]
    if unit == "s" and expected == "ms":
        return value * 1000
    if unit and unit != expected and not (unit == "ms" and expected == "ms"):
        raise ValueError(f"{source!r}: {metric} is measured in {expected or 'a count'}, not {unit}")
    return value


def parse_comparison(text: str, source: str | None = None) -> Comparison:
    source = source or text
    match = _TERM.match(text)
    if match is None:
        raise ValueError(f"cannot read {text.strip()!r} in {source!r}: write '<metric> <op> <number>', e.g. 'error_rate > 1%'")
    metric, op, number, unit = match.groups()
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} in {source!r}; known: {', '.join(METRICS)}")
    return Comparison(metric, op, _value(number, unit, metric, source))


def parse_condition(text: str) -> Condition:
    if not text or not text.strip():
        raise ValueError("empty condition; write e.g. 'error_rate > 1%'")
    normalized = text.replace("||", " or ").replace("&&", " and ")
    groups = []
    for disjunct in re.split(r"\s+or\s+", normalized, flags=re.IGNORECASE):
        terms = re.split(r"\s+and\s+", disjunct, flags=re.IGNORECASE)
        groups.append(tuple(parse_comparison(t, text) for t in terms))
    return Condition(tuple(groups), text)


def threshold_holds(metric: str, threshold: str, metrics: Mapping[str, float]) -> bool:
    """Whether ``metrics[metric]`` meets a health-check threshold such as ``"< 1%"``."""
    match = _THRESHOLD.match(threshold)
    if match is None or metric not in METRICS:
        raise ValueError(f"cannot read threshold {threshold!r} for {metric}; write e.g. '< 1%'")
    op, number, unit = match.groups()
    return Comparison(metric, op, _value(number, unit, metric, threshold)).holds(metrics)
