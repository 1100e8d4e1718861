"""Fixtures for the health probes: a loopback Prometheus stub and phases shaped like the planner's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.domain import HealthCheck, Phase
from tests.fakes.prometheus_server import FakePrometheus

#: Healthy answers for the default queries (matched by a substring of each default template).
HEALTHY = {
    "http_requests_total": 0.1,
    "http_request_duration_seconds_bucket": 120.0,
    "node_cpu_seconds_total": 35.0,
    "up{": 100.0,
    "process_start_time_seconds": 0.0,
}


def healthy(stub: FakePrometheus) -> FakePrometheus:
    for substring, value in HEALTHY.items():
        stub.answer(substring, value)
    return stub


@pytest.fixture
async def prometheus() -> AsyncIterator[FakePrometheus]:
    async with FakePrometheus() as stub:
        yield stub


def phase(assets: list[str], *checks: HealthCheck, rollback_if: str | None = "error_rate > 1%", name: str = "Canary") -> Phase:
    return Phase(name=name, assets=assets, health_checks=list(checks), rollback_if=rollback_if)


def check(type_: str, **fields: str) -> HealthCheck:
    return HealthCheck(type=type_, **fields)
