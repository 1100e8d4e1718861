"""PromQL templates for the health metrics, and the ``{assets}`` placeholder.

A template names the phase's assets with ``{assets}`` inside a double-quoted regex label matcher,
e.g. ``up{instance=~"{assets}"}``. It expands to an anchored alternation of the asset ids with regex
metacharacters escaped, optionally followed by a port (Prometheus ``instance`` labels are usually
``host:port``), and escaped once more for the PromQL string literal: ``web-1`` and ``db.2`` become
``(?:web-1|db\\\\.2)(?::[0-9]+)?``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable

PLACEHOLDER = "{assets}"

#: Default queries, one per metric of ``core.executor.conditions.METRICS``, in that metric's unit.
DEFAULT_QUERIES: dict[str, str] = {
    # percent of requests answered 5xx; "or vector(0)": no 5xx series at all means 0%, not "no data"
    "error_rate": (
        '100 * (sum(rate(http_requests_total{instance=~"{assets}",code=~"5.."}[5m])) or vector(0))'
        ' / sum(rate(http_requests_total{instance=~"{assets}"}[5m]))'
    ),
    # milliseconds
    "latency_p99": (
        '1000 * histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{instance=~"{assets}"}[5m])))'
    ),
    # percent busy, averaged over the assets' CPUs
    "cpu": '100 * (1 - avg(rate(node_cpu_seconds_total{instance=~"{assets}",mode="idle"}[5m])))',
    # percent of the assets' scrape targets that are up
    "http_ok": '100 * avg(up{instance=~"{assets}"})',
    # process restarts over the last 15 minutes
    "restarts": 'sum(changes(process_start_time_seconds{instance=~"{assets}"}[15m]))',
}

_REGEX_META = frozenset("\\.+*?()|[]{}^$")
_THRESHOLD = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(%|ms|s)?\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def escape_regex(text: str) -> str:
    """Escape RE2 metacharacters so ``text`` matches only itself."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in text)


def string_literal_body(text: str) -> str:
    """Escape ``text`` for the inside of a double-quoted PromQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def assets_regex(assets: Iterable[str]) -> str:
    """The regex (not yet escaped for a string literal) matching exactly these assets, with or without ``:port``."""
    unique = list(dict.fromkeys(a for a in assets if a))
    if not unique:
        raise ValueError("no assets to put in a query")
    return "(?:" + "|".join(escape_regex(a) for a in unique) + ")(?::[0-9]+)?"


def expand(template: str, assets: Iterable[str]) -> str:
    """Replace every ``{assets}`` in ``template``; other braces (label matchers) are left alone."""
    return template.replace(PLACEHOLDER, string_literal_body(assets_regex(assets)))


def parse_threshold(threshold: str) -> tuple[str, float]:
    """``"< 5"`` → ``("<", 5.0)``. A unit suffix (%, ms, s) is allowed for reading but not converted."""
    match = _THRESHOLD.match(threshold or "")
    if match is None:
        raise ValueError(f"cannot read threshold {threshold!r}; write '<op> <number>', e.g. '< 5' or '>= 0.99'")
    op, number, _unit = match.groups()
    return op, float(number)


def meets(value: float, op: str, limit: float) -> bool:
    """Whether ``value op limit`` holds; NaN never meets anything."""
    return not math.isnan(value) and _OPS[op](value, limit)
