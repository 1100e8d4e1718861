"""HttpHealth: GETs on every asset's health target, http_ok is the share that answered 200."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from core.errors import ExecutionError
from core.executor.health.http import HttpHealth
from core.executor.health.prometheus import PrometheusHealth
from tests.core.executor.health.conftest import check, healthy, phase
from tests.fakes.prometheus_server import FakePrometheus


class Fleet:
    """One loopback server standing in for many hosts: ``/{asset}/{path}`` answers as that asset would."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.slow: set[str] = set()
        self.hits: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> Fleet:
        app = web.Application()
        app.router.add_get("/{asset}/{path:.*}", self._get)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get(self, request: web.Request) -> web.Response:
        asset = request.match_info["asset"]
        self.hits.append(f"{asset}/{request.match_info['path']}")
        if asset in self.slow:
            await asyncio.sleep(0.6)
        return web.Response(status=self.status.get(asset, 200), text="ok")


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    server = await Fleet().start()
    yield server
    await server.close()


@pytest.fixture
async def probe(fleet: Fleet) -> AsyncIterator[HttpHealth]:
    probe = HttpHealth(url_template="{scheme}://127.0.0.1:{port}/{asset}{target}", port=fleet.port, timeout_seconds=0.3)
    yield probe
    await probe.close()


ASSETS = ["web-1", "web-2", "web-3", "web-4"]


async def test_every_asset_answering_200_is_100_percent(probe: HttpHealth, fleet: Fleet) -> None:
    metrics = await probe.measure(phase(ASSETS, check("http_200", target="/health"), rollback_if=None), ASSETS)
    assert metrics == {"http_ok": 100.0}
    assert sorted(fleet.hits) == [f"{a}/health" for a in ASSETS]


async def test_errors_timeouts_and_refusals_count_as_not_ok(probe: HttpHealth, fleet: Fleet) -> None:
    fleet.status["web-2"] = 503
    fleet.slow.add("web-3")
    metrics = await probe.measure(phase(ASSETS, check("http_200", target="/health"), rollback_if="http_ok < 100%"), ASSETS)
    assert metrics == {"http_ok": 50.0}


async def test_every_target_must_answer(probe: HttpHealth, fleet: Fleet) -> None:
    fleet.status["web-1"] = 404  # every path of web-1
    checks = (check("http_200", target="/health"), check("http_200", target="ready"))
    assert await probe.measure(phase(["web-1", "web-2"], *checks, rollback_if=None), ["web-1", "web-2"]) == {"http_ok": 50.0}
    assert "web-2/ready" in fleet.hits


async def test_the_default_url_template_uses_the_asset_as_host() -> None:
    probe = HttpHealth(scheme="https", port=8443)
    assert probe.url("web-prod-001", "/health") == "https://web-prod-001:8443/health"
    assert probe.url("web-prod-001", "health") == "https://web-prod-001:8443/health"


async def test_metrics_it_cannot_measure_are_refused_by_name(probe: HttpHealth) -> None:
    with pytest.raises(ExecutionError, match="needs error_rate, which the http probe cannot measure"):
        await probe.measure(phase(ASSETS, check("http_200")), ASSETS)


async def test_behind_prometheus_it_supplies_http_ok(fleet: Fleet, prometheus: FakePrometheus) -> None:
    fleet.status["web-4"] = 500
    http = HttpHealth(url_template="http://127.0.0.1:{port}/{asset}{target}", port=fleet.port)
    probe = PrometheusHealth(healthy(prometheus).url, http_probe=http)
    try:
        metrics = await probe.measure(phase(ASSETS, check("http_200", target="/health")), ASSETS)
    finally:
        await probe.close()
    assert metrics == {"error_rate": 0.1, "http_ok": 75.0}
    assert not any("up{" in q for q in prometheus.queries)
    assert http._session is None


async def test_address_in_the_url_comes_from_the_inventory(fleet: Fleet) -> None:
    probe = HttpHealth(url_template="{scheme}://{address}:{port}/{asset}{target}", port=fleet.port, timeout_seconds=0.3)

    async def addresses(asset_ids: list[str]) -> dict[str, str]:
        return {a: "127.0.0.1" for a in asset_ids if a != "web-4"}  # web-4 has no address: its id is used

    probe.use_addresses(addresses)
    try:
        assert probe.url("web-1", "/health", "10.0.0.1") == f"http://10.0.0.1:{fleet.port}/web-1/health"
        metrics = await probe.measure(phase(ASSETS[:3], check("http_200", target="/health"), rollback_if=None), ASSETS[:3])
        assert metrics == {"http_ok": 100.0} and sorted(fleet.hits) == [f"{a}/health" for a in ASSETS[:3]]
        assert probe.url("web-4", "/health") == f"http://web-4:{fleet.port}/web-4/health"
    finally:
        await probe.close()
