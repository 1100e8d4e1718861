"""What a phase is judged on decides what a probe must measure."""

from __future__ import annotations

import pytest

from core.errors import ExecutionError
from core.executor.health import required_metrics
from tests.core.executor.health.conftest import check, phase


def test_required_metrics_come_from_check_types_and_rollback_if_in_order() -> None:
    judged = phase(
        ["a"],
        check("http_200"),
        check("error_rate", threshold="< 1%"),
        check("prometheus", query="up", threshold="> 0"),
        check("service_running", target="nginx"),
        rollback_if="latency_p99 > 500ms or error_rate > 2% and restarts > 0",
    )
    assert required_metrics(judged) == ["http_ok", "error_rate", "latency_p99", "restarts"]


def test_a_phase_without_checks_needs_nothing() -> None:
    assert required_metrics(phase(["a"], rollback_if=None)) == []


def test_an_unreadable_rollback_condition_is_an_execution_error() -> None:
    with pytest.raises(ExecutionError, match="rollback_if unknown metric 'errors'"):
        required_metrics(phase(["a"], rollback_if="errors > 1"))
