"""One contract for every HealthProbe: the simulated default and Prometheus (against the loopback stub)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from core.errors import ExecutionError
from core.executor.conditions import METRICS, parse_condition, threshold_holds
from core.executor.health import HealthProbe, build_probe, required_metrics
from core.executor.health.prometheus import PrometheusHealth
from core.executor.health.simulate import SimulatedHealth
from tests.core.executor.health.conftest import check, healthy, phase
from tests.fakes.prometheus_server import FakePrometheus

ASSETS = ["web-stg-002", "web-stg-005"]


@dataclass
class Harness:
    probe: HealthProbe
    stub: FakePrometheus | None = None
    outage_words: str = ""

    def fail(self, asset: str) -> None:
        """Make ``asset`` unhealthy: a high error rate (and slow) whenever it is measured."""
        if isinstance(self.probe, SimulatedHealth):
            self.probe.fail_assets.add(asset)
        else:
            assert self.stub is not None
            self.stub.answer(("http_requests_total", asset), 5.0)
            self.stub.answer(("http_request_duration_seconds_bucket", asset), 480.0)

    def break_down(self) -> None:
        """Make the probe itself unable to measure."""
        if isinstance(self.probe, SimulatedHealth):
            self.probe.unavailable = "maintenance"
        else:
            assert self.stub is not None
            self.stub.fail("", "execution", "query processing would load too many samples into memory", status=422)


@pytest.fixture(params=["simulate", "prometheus"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "simulate":
        yield Harness(build_probe("simulate"), outage_words="unavailable")
        return
    async with FakePrometheus() as stub:
        probe = PrometheusHealth(healthy(stub).url)
        try:
            yield Harness(probe, stub, outage_words="too many samples")
        finally:
            await probe.close()


FULL = phase(
    ASSETS,
    check("http_200", target="/health", timeout="30s"),
    check("error_rate", threshold="< 1%"),
    check("latency_p99", threshold="< 500ms"),
    check("cpu", threshold="< 90%"),
    rollback_if="error_rate > 1% or restarts > 3",
)


async def test_every_needed_metric_comes_back_as_a_float_named_like_the_conditions(harness: Harness) -> None:
    metrics = await harness.probe.measure(FULL, ASSETS)
    assert set(required_metrics(FULL)) <= set(metrics)
    assert set(metrics) <= set(METRICS)
    assert all(type(v) is float for v in metrics.values())


async def test_healthy_assets_pass_their_thresholds_and_do_not_trigger_rollback(harness: Harness) -> None:
    metrics = await harness.probe.measure(FULL, ASSETS)
    for c in FULL.health_checks:
        if c.threshold:
            assert threshold_holds(c.type, c.threshold, metrics), (c, metrics)
    assert metrics["http_ok"] == 100.0
    assert not parse_condition(FULL.rollback_if or "").holds(metrics)


async def test_an_unhealthy_asset_in_the_phase_triggers_its_rollback_condition(harness: Harness) -> None:
    harness.fail("web-stg-005")
    metrics = await harness.probe.measure(FULL, ASSETS)
    assert parse_condition("error_rate > 1%").holds(metrics)
    assert not threshold_holds("latency_p99", "< 300ms", metrics)


async def test_an_unhealthy_asset_outside_the_phase_does_not_count(harness: Harness) -> None:
    harness.fail("web-stg-099")
    metrics = await harness.probe.measure(FULL, ASSETS)
    assert not parse_condition("error_rate > 1%").holds(metrics)


async def test_the_phase_checks_decide_what_is_measured(harness: Harness) -> None:
    only_errors = phase(["web-stg-002"], check("error_rate", threshold="< 2%"), rollback_if="error_rate > 2%")
    metrics = await harness.probe.measure(only_errors, ["web-stg-002"])
    assert "error_rate" in metrics
    if harness.stub is not None:  # a real probe asks only for what the phase is judged on
        assert set(metrics) == {"error_rate"}
        assert len(harness.stub.queries) == 1


async def test_a_probe_that_cannot_measure_raises_execution_error_with_the_reason(harness: Harness) -> None:
    harness.break_down()
    with pytest.raises(ExecutionError, match=harness.outage_words):
        await harness.probe.measure(FULL, ASSETS)


async def test_measures_repeatedly_and_closes_twice(harness: Harness) -> None:
    first: dict[str, Any] = await harness.probe.measure(FULL, ASSETS)
    second = await harness.probe.measure(FULL, ASSETS)
    assert first == second
    await harness.probe.close()
    await harness.probe.close()
