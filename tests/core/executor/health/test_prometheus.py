"""PrometheusHealth against the loopback stub: queries sent, answers read, every way it can go wrong."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import ExecutionError
from core.executor.health import HealthCheckFailed
from core.executor.health.prometheus import PrometheusHealth
from tests.core.executor.health.conftest import check, healthy, phase
from tests.fakes.prometheus_server import FakePrometheus

ASSETS = ["web-prod-001", "web-prod-002"]
CANARY = phase(ASSETS, check("http_200", target="/health"), check("error_rate", threshold="< 1%"))


@pytest.fixture
async def probe(prometheus: FakePrometheus):
    probe = PrometheusHealth(healthy(prometheus).url, timeout_seconds=2)
    yield probe
    await probe.close()


async def test_queries_name_the_phase_assets_and_only_the_needed_metrics(
    probe: PrometheusHealth, prometheus: FakePrometheus
) -> None:
    metrics = await probe.measure(CANARY, ASSETS)
    assert metrics == {"http_ok": 100.0, "error_rate": 0.1}
    assert len(prometheus.queries) == 2
    assert all('instance=~"(?:web-prod-001|web-prod-002)(?::[0-9]+)?"' in q for q in prometheus.queries)
    assert any(q.startswith("100 * avg(up{") for q in prometheus.queries)


async def test_configured_queries_replace_the_defaults(prometheus: FakePrometheus) -> None:
    prometheus.answer("my_errors_percent", 0.3)
    probe = PrometheusHealth(prometheus.url, queries={"error_rate": 'max(my_errors_percent{host=~"{assets}"})'})
    try:
        metrics = await probe.measure(phase(["a.b"], rollback_if="error_rate > 1%"), ["a.b"])
    finally:
        await probe.close()
    assert metrics == {"error_rate": 0.3}
    assert prometheus.queries == ['max(my_errors_percent{host=~"(?:a\\\\.b)(?::[0-9]+)?"})']


async def test_no_data_for_a_metric_fails_instead_of_passing(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("http_requests_total", None)
    with pytest.raises(HealthCheckFailed, match="no data for error_rate") as caught:
        await probe.measure(CANARY, ASSETS)
    assert "http_requests_total" in str(caught.value)


async def test_nan_fails_like_no_data(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("http_requests_total", "NaN")
    with pytest.raises(HealthCheckFailed, match="NaN for error_rate"):
        await probe.measure(CANARY, ASSETS)


async def test_a_metric_only_in_rollback_if_must_have_data_too(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("process_start_time_seconds", None)
    with pytest.raises(HealthCheckFailed, match="no data for restarts"):
        await probe.measure(phase(ASSETS, rollback_if="restarts > 3"), ASSETS)


async def test_several_series_report_the_worst(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("http_requests_total", [({"instance": "web-prod-001"}, 0.2), ({"instance": "web-prod-002"}, 4.0)])
    prometheus.answer("up{", [({"instance": "web-prod-001"}, 100.0), ({"instance": "web-prod-002"}, 50.0)])
    assert await probe.measure(CANARY, ASSETS) == {"http_ok": 50.0, "error_rate": 4.0}


async def test_a_scalar_answer_is_read(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("http_requests_total", 0.7, scalar=True)
    assert (await probe.measure(phase(ASSETS), ASSETS)) == {"error_rate": 0.7}


async def test_a_range_answer_is_refused(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("http_requests_total", 0.7, result_type="matrix")
    with pytest.raises(ExecutionError, match="matrix; health queries must be instant"):
        await probe.measure(phase(ASSETS), ASSETS)


async def test_status_error_is_reported_with_its_type_and_message(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.fail("http_requests_total", "bad_data", '1:5: parse error: unexpected "}"')
    with pytest.raises(ExecutionError, match="bad_data: 1:5: parse error") as caught:
        await probe.measure(CANARY, ASSETS)
    assert not isinstance(caught.value, HealthCheckFailed)  # an outage, not a verdict on the assets


async def test_a_body_that_is_not_json_is_reported(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("", raw="<html>502 Bad Gateway</html>", status=502)
    with pytest.raises(ExecutionError, match="HTTP 502 without a JSON body"):
        await probe.measure(CANARY, ASSETS)


async def test_a_slow_prometheus_times_out_with_a_clear_message(prometheus: FakePrometheus) -> None:
    healthy(prometheus).delay = 0.5
    probe = PrometheusHealth(prometheus.url, timeout_seconds=0.1)
    try:
        with pytest.raises(ExecutionError, match=r"did not answer within 0\.1s"):
            await probe.measure(CANARY, ASSETS)
    finally:
        await probe.close()


async def test_an_unreachable_prometheus_is_reported() -> None:
    async with FakePrometheus() as gone:
        url = gone.url
    probe = PrometheusHealth(url, timeout_seconds=2)
    try:
        with pytest.raises(ExecutionError, match=f"cannot reach Prometheus at {url}") as caught:
            await probe.measure(CANARY, ASSETS)
    finally:
        await probe.close()
    assert caught.value.__cause__ is not None


async def test_a_long_query_goes_as_a_post(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    many = [f"web-prod-{i:04d}.example.internal" for i in range(200)]
    metrics = await probe.measure(phase(many), many)
    assert metrics == {"error_rate": 0.1}
    assert prometheus.methods == ["POST"]
    assert "web-prod-0199\\\\.example\\\\.internal" in prometheus.queries[0]


async def test_one_session_for_all_queries_closed_by_close(probe: PrometheusHealth) -> None:
    await probe.measure(CANARY, ASSETS)
    session = probe._session
    await probe.measure(CANARY, ASSETS)
    assert probe._session is session and session is not None
    await probe.close()
    assert session.closed


async def test_queries_of_a_phase_run_concurrently(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.delay = 0.3
    started = asyncio.get_running_loop().time()
    await probe.measure(
        phase(ASSETS, check("http_200"), check("cpu", threshold="< 90%"), check("latency_p99", threshold="< 500ms")), ASSETS
    )
    assert asyncio.get_running_loop().time() - started < 0.8


async def test_no_assets_means_nothing_to_measure(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    assert await probe.measure(CANARY, []) == {}
    assert prometheus.queries == []


# -- prometheus-type health checks: their own query and threshold ------------------------------


def queue_check(threshold: str = "< 5") -> object:
    return check("prometheus", query='sum(rate(queue_errors_total{instance=~"{assets}"}[5m]))', threshold=threshold)


async def test_a_prometheus_check_within_its_threshold_passes(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("queue_errors_total", 2.0)
    metrics = await probe.measure(phase(ASSETS, queue_check(), rollback_if=None), ASSETS)
    assert metrics == {}  # judged here; nothing for the runner's metrics
    assert prometheus.queries == ['sum(rate(queue_errors_total{instance=~"(?:web-prod-001|web-prod-002)(?::[0-9]+)?"}[5m]))']


async def test_a_prometheus_check_over_its_threshold_fails_naming_query_value_and_series(
    probe: PrometheusHealth, prometheus: FakePrometheus
) -> None:
    prometheus.answer("queue_errors_total", [({"instance": "web-prod-001"}, 1.0), ({"instance": "web-prod-002"}, 7.5)])
    with pytest.raises(HealthCheckFailed, match=r"= 7\.5 for \{instance=\"web-prod-002\"\} breaks '< 5'"):
        await probe.measure(phase(ASSETS, queue_check()), ASSETS)


async def test_a_prometheus_check_without_data_fails(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("queue_errors_total", None)
    with pytest.raises(HealthCheckFailed, match="returned no data, so it cannot pass '< 5'"):
        await probe.measure(phase(ASSETS, queue_check()), ASSETS)


async def test_a_prometheus_check_answering_nan_fails(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("queue_errors_total", "NaN")
    with pytest.raises(HealthCheckFailed, match="= nan"):
        await probe.measure(phase(ASSETS, queue_check()), ASSETS)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"query": "up"}, "needs both query and threshold"),
        ({"threshold": "< 1"}, "needs both query and threshold"),
        ({"query": "up", "threshold": "lots"}, "cannot read threshold"),
    ],
)
async def test_a_malformed_prometheus_check_fails(probe: PrometheusHealth, fields: dict, problem: str) -> None:
    with pytest.raises(HealthCheckFailed, match=problem):
        await probe.measure(phase(ASSETS, check("prometheus", **fields), rollback_if=None), ASSETS)


async def test_every_problem_of_a_phase_is_reported_at_once(probe: PrometheusHealth, prometheus: FakePrometheus) -> None:
    prometheus.answer("queue_errors_total", 9.0)
    prometheus.answer("http_requests_total", None)
    with pytest.raises(HealthCheckFailed) as caught:
        await probe.measure(phase(ASSETS, queue_check()), ASSETS)
    assert "no data for error_rate" in str(caught.value) and "breaks '< 5'" in str(caught.value)
