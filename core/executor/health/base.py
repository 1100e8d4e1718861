from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from core.domain import Phase
from core.errors import ExecutionError
from core.executor.conditions import parse_condition

#: The metric each built-in health-check type is judged on (``prometheus`` checks carry their own query).
CHECK_METRICS = {"http_200": "http_ok", "error_rate": "error_rate", "latency_p99": "latency_p99", "cpu": "cpu"}


class HealthCheckFailed(ExecutionError):
    """A check could not pass: its query returned no data or NaN, or a ``prometheus`` check broke its threshold.

    A subclass of ``ExecutionError``, so a runner that only knows ``ExecutionError`` still stops the run;
    a runner that knows this class can roll back instead.
    """


class HealthInconclusive(HealthCheckFailed):
    """A check had no data (an empty result, NaN, a target that did not answer): nobody knows whether the phase is
    healthy. The executor pauses the run (or rolls back, per ``executor.on_inconclusive``) instead of judging."""


class HealthProbe(ABC):
    """Port: measure the assets of a phase; returns metrics named as in ``core.executor.conditions``.

    Contract: every metric in ``required_metrics(phase)`` is in the answer as a float, every key is a
    known metric name, and a probe that cannot measure raises ``ExecutionError`` (never returns a
    made-up healthy number).
    """

    name: str

    @abstractmethod
    async def measure(self, phase: Phase, assets: list[str]) -> dict[str, float]: ...

    async def close(self) -> None:
        """Release connections; the default probe holds none."""

    def use_addresses(self, resolve: Callable[[list[str]], Awaitable[dict[str, str]]]) -> None:
        """Receive the inventory's ``address`` lookup (for ``{address}`` in URLs); probes that reach no asset ignore it."""


def required_metrics(phase: Phase) -> list[str]:
    """The known metrics the phase's health checks and ``rollback_if`` are judged on, in first-use order."""
    needed: list[str] = []
    for check in phase.health_checks:
        metric = CHECK_METRICS.get(check.type)
        if metric and metric not in needed:
            needed.append(metric)
    if phase.rollback_if:
        try:
            condition = parse_condition(phase.rollback_if)
        except ValueError as exc:
            raise ExecutionError(f"phase {phase.name!r}: rollback_if {exc}") from exc
        for group in condition.any_of:
            for comparison in group:
                if comparison.metric not in needed:
                    needed.append(comparison.metric)
    return needed
