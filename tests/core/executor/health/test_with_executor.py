"""The Prometheus probe wired into the service from config: thresholds decide between rollback and completion."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.config import Config
from core.executor.health.prometheus import PrometheusHealth
from core.intake import Ask
from core.service import OpsPilot
from tests.core.executor.health.conftest import healthy
from tests.fakes.prometheus_server import FakePrometheus

ASK = "fix drift on staging web servers"  # Canary + 3 waves of one asset each, error_rate < 2%


@pytest.fixture
async def prometheus_service(config: Config, prometheus: FakePrometheus) -> AsyncIterator[OpsPilot]:
    config.executor.health.probe = "prometheus"
    config.executor.health.prometheus_url = prometheus.url
    healthy(prometheus)
    service = await OpsPilot.create(config)
    await service.start()
    try:
        yield service
    finally:
        await service.executor.probe.close()
        await service.close()


async def _run(service: OpsPilot, before_approval=None):
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval"
    if before_approval:
        before_approval(outcome.plan)
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    return outcome.plan, await service.store.get_run(decision.run.id)


async def test_the_service_builds_the_prometheus_probe_from_config(
    prometheus_service: OpsPilot, prometheus: FakePrometheus
) -> None:
    assert isinstance(prometheus_service.executor.probe, PrometheusHealth)
    assert prometheus_service.executor.probe.url == prometheus.url


async def test_low_error_rate_completes_every_phase(prometheus_service: OpsPilot, prometheus: FakePrometheus) -> None:
    plan, run = await _run(prometheus_service)
    assert run.state == "completed"
    assert run.progress.phases_completed == len(plan.payload.phases)
    assert run.phases[0].health == {"http_ok": 100.0, "error_rate": 0.1}
    for phase in plan.payload.phases:
        assert any(phase.assets[0] in q for q in prometheus.queries)


async def test_an_error_rate_over_the_threshold_in_a_wave_rolls_back_naming_the_metric(
    prometheus_service: OpsPilot, prometheus: FakePrometheus
) -> None:
    def bad_first_wave(plan) -> None:
        prometheus.answer(("http_requests_total", f"(?:{plan.payload.phases[1].assets[0]})"), 3.0)

    _plan, run = await _run(prometheus_service, bad_first_wave)
    assert run.state == "rolled_back"
    assert run.progress.phases_completed == 1
    assert "Wave 1" in run.status.reason and "error_rate" in run.status.reason and "3%" in run.status.reason
    assert run.phases[1].status == "rolled_back" and run.phases[0].status == "rolled_back"


async def test_no_data_never_lets_a_wave_pass_it_pauses_for_a_person(
    prometheus_service: OpsPilot, prometheus: FakePrometheus
) -> None:
    def silent_first_wave(plan) -> None:
        prometheus.answer(("http_requests_total", f"(?:{plan.payload.phases[1].assets[0]})"), None)

    _plan, run = await _run(prometheus_service, silent_first_wave)
    assert run.state == "paused", "no data is inconclusive: neither a pass nor a rollback"
    assert run.status.reason.startswith("Wave 1: health inconclusive (no data for error_rate from Prometheus (query: ")
    assert run.phases[1].health["verdict"] == "inconclusive"
    assert run.phases[2].status == "pending", "the next wave did not start"
    resumed = await prometheus_service.control_run(run.id, "U0APPROVER2", "resume")
    assert resumed.status == "resumed"
    await prometheus_service.executor.wait_idle(20)
    assert (await prometheus_service.store.get_run(run.id)).state == "completed"


async def test_no_data_rolls_back_when_configured_to(prometheus_service: OpsPilot, prometheus: FakePrometheus) -> None:
    prometheus_service.executor.settings.on_inconclusive = "rollback"

    def silent_first_wave(plan) -> None:
        prometheus.answer(("http_requests_total", f"(?:{plan.payload.phases[1].assets[0]})"), None)

    _plan, run = await _run(prometheus_service, silent_first_wave)
    assert run.state == "rolled_back"
    assert run.progress.phases_completed == 1
    assert run.status.reason.startswith("Wave 1: health inconclusive: no data for error_rate from Prometheus (query: ")
    assert all(a.status == "rolled_back" for p in run.phases[:2] for a in p.assets)


async def test_prometheus_down_stops_the_run(prometheus_service: OpsPilot, prometheus: FakePrometheus) -> None:
    prometheus_service.executor.settings.on_inconclusive = "rollback"
    prometheus.fail("", "unavailable", "TSDB not ready", status=503)
    _plan, run = await _run(prometheus_service)
    assert run.state == "rolled_back"
    assert run.progress.phases_completed == 0
    assert run.status.reason.startswith("Canary: health inconclusive: Prometheus rejected query ")
    assert run.status.reason.endswith(": unavailable: TSDB not ready")
