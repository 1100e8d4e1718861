"""Health from a Prometheus server: one instant query (``/api/v1/query``) per metric a phase needs.

Which metrics a phase needs comes from its health checks and its ``rollback_if``
(``base.required_metrics``); each is measured with a PromQL template (``promql.DEFAULT_QUERIES``,
overridable per metric) whose ``{assets}`` placeholder names the phase's assets. A ``prometheus``
health check runs its own ``query`` and is judged here against its own ``threshold``, because only
this probe knows what the number means.

A metric or check without data never passes: an empty result or NaN raises ``HealthCheckFailed``.
Prometheus being unreachable, slow or answering ``status: error`` raises ``ExecutionError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from core.domain import HealthCheck, Phase
from core.errors import ExecutionError
from core.executor.health.base import HealthCheckFailed, HealthInconclusive, HealthProbe, required_metrics
from core.executor.health.http import AddressResolver, HttpHealth
from core.executor.health.promql import DEFAULT_QUERIES, expand, meets, parse_threshold

if TYPE_CHECKING:
    from core.config import HealthConfig

logger = logging.getLogger(__name__)

#: Longer queries (large waves) go as a form POST, which Prometheus accepts on the same endpoint.
_MAX_GET_QUERY = 4000
#: http_ok is better the higher it is, so its worst series is the lowest; every other metric is worse when higher.
_HIGHER_IS_BETTER = frozenset({"http_ok"})

Sample = tuple[dict[str, str], float]


class PrometheusHealth(HealthProbe):
    name = "prometheus"

    def __init__(
        self,
        url: str | None,
        *,
        queries: Mapping[str, str] | None = None,
        timeout_seconds: float = 10.0,
        http_probe: HttpHealth | None = None,
    ) -> None:
        if not url:
            raise ExecutionError("the prometheus health probe needs a URL (executor.health.prometheus_url or PROMETHEUS_URL)")
        self.url = url.rstrip("/")
        self.queries = {**DEFAULT_QUERIES, **(queries or {})}
        self.timeout_seconds = timeout_seconds
        self.http_probe = http_probe  # when set, http_ok comes from GETs on the assets instead of `up`
        self._session: aiohttp.ClientSession | None = None

    def use_addresses(self, resolve: AddressResolver) -> None:
        if self.http_probe is not None:
            self.http_probe.use_addresses(resolve)

    @classmethod
    def from_config(cls, health: HealthConfig) -> PrometheusHealth:
        http_probe = None
        if health.http.enabled:
            http_probe = HttpHealth.from_config(health.http)
        return cls(health.prometheus_url, queries=health.queries, timeout_seconds=health.timeout_seconds, http_probe=http_probe)

    # -- the port ----------------------------------------------------------------------------

    async def measure(self, phase: Phase, assets: list[str]) -> dict[str, float]:
        if not assets:
            return {}
        metrics = required_metrics(phase)
        http_probe = self.http_probe if "http_ok" in metrics else None
        jobs: list[tuple[str, Awaitable[float]]] = [
            (metric, self._metric(metric, assets)) for metric in metrics if not (metric == "http_ok" and http_probe is not None)
        ]
        jobs += [
            (f"check {i}", self._check(check, assets))
            for i, check in enumerate(phase.health_checks)
            if check.type == "prometheus"
        ]
        if http_probe is not None:
            jobs.append(("http_ok", http_probe.http_ok(phase, assets)))
        results = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)

        measured: dict[str, float] = {}
        outages: list[ExecutionError] = []
        failed: list[HealthCheckFailed] = []
        for (label, _), result in zip(jobs, results, strict=True):
            if isinstance(result, HealthCheckFailed):
                failed.append(result)
            elif isinstance(result, ExecutionError):
                outages.append(result)
            elif isinstance(result, BaseException):
                raise result
            elif isinstance(result, float) and not label.startswith("check "):
                measured[label] = result
        if outages:  # Prometheus itself failed: say so once, whatever the checks would have said
            raise ExecutionError(_joined(outages)) from outages[0]
        breaking = [f for f in failed if not isinstance(f, HealthInconclusive)]
        if breaking:  # a measured failure decides, whatever else had no data
            raise HealthCheckFailed(_joined(failed)) from breaking[0]
        if failed:
            raise HealthInconclusive(_joined(failed)) from failed[0]
        logger.info("prometheus health of phase %s (%d assets): %s", phase.name, len(assets), measured)
        return measured

    async def close(self) -> None:
        if self.http_probe is not None:
            await self.http_probe.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- metrics and checks ------------------------------------------------------------------

    async def _metric(self, metric: str, assets: list[str]) -> float:
        template = self.queries.get(metric)
        if not template:
            raise ExecutionError(f"no Prometheus query for {metric}; set executor.health.queries.{metric}")
        query = expand(template, assets)
        samples = await self.query(query)
        values = [v for _, v in samples if not math.isnan(v)]
        if not samples:
            raise HealthInconclusive(f"no data for {metric} from Prometheus (query: {query})")
        if not values:
            raise HealthInconclusive(f"Prometheus returned NaN for {metric}, e.g. no traffic to divide by (query: {query})")
        if len(samples) > 1:
            logger.debug("query for %s returned %d series; taking the worst", metric, len(samples))
        return min(values) if metric in _HIGHER_IS_BETTER else max(values)

    async def _check(self, check: HealthCheck, assets: list[str]) -> float:
        if not check.query or not check.threshold:
            raise HealthCheckFailed("a prometheus health check needs both query and threshold")
        try:
            op, limit = parse_threshold(check.threshold)
        except ValueError as exc:
            raise HealthCheckFailed(f"prometheus check {check.query!r}: {exc}") from exc
        query = expand(check.query, assets)
        samples = await self.query(query)
        if not samples:
            raise HealthInconclusive(f"prometheus check {query!r} returned no data, so it cannot pass {check.threshold!r}")
        broken = [(labels, v) for labels, v in samples if not meets(v, op, limit)]
        if broken:
            labels, value = broken[0]
            where = f" for {_labels(labels)}" if labels else ""
            more = f" (and {len(broken) - 1} more series)" if len(broken) > 1 else ""
            raise HealthCheckFailed(f"prometheus check {query!r} = {value:g}{where} breaks {check.threshold!r}{more}")
        return max(v for _, v in samples)

    # -- the HTTP API ------------------------------------------------------------------------

    async def query(self, promql: str) -> list[Sample]:
        """Run an instant query; returns (labels, value) per series (one unlabelled sample for a scalar)."""
        session = self._session_for_loop()
        endpoint = f"{self.url}/api/v1/query"
        params = {"query": promql, "timeout": f"{self.timeout_seconds:g}s"}
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        try:
            if len(promql) > _MAX_GET_QUERY:
                request = session.post(endpoint, data=params, timeout=timeout)
            else:
                request = session.get(endpoint, params=params, timeout=timeout)
            async with request as response:
                text = await response.text()
                status = response.status
        except TimeoutError as exc:
            raise ExecutionError(f"Prometheus at {self.url} did not answer within {self.timeout_seconds:g}s") from exc
        except aiohttp.ClientError as exc:
            raise ExecutionError(f"cannot reach Prometheus at {self.url}: {exc or type(exc).__name__}") from exc
        return _samples(promql, status, text, self.url)

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"Accept": "application/json"})
        return self._session


def _samples(promql: str, status: int, text: str, url: str) -> list[Sample]:
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ExecutionError(f"Prometheus at {url} answered HTTP {status} without a JSON body: {text[:200]!r}")
    if body.get("status") != "success":
        kind = body.get("errorType") or f"HTTP {status}"
        raise ExecutionError(f"Prometheus rejected query {promql!r}: {kind}: {body.get('error') or 'no error message'}")
    data = body.get("data") or {}
    kind = data.get("resultType")
    result: Any = data.get("result")  # untrusted JSON: a wrong shape raises below and is reported as malformed
    try:
        if kind == "vector":
            return [(dict(item.get("metric") or {}), _number(item["value"][1])) for item in result or []]
        if kind == "scalar":
            return [({}, _number(result[1]))]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ExecutionError(f"Prometheus answered query {promql!r} with a malformed {kind}: {exc}") from exc
    raise ExecutionError(f"Prometheus answered query {promql!r} with a {kind}; health queries must be instant vectors or scalars")


def _joined(errors: Sequence[ExecutionError]) -> str:
    return "; ".join(dict.fromkeys(str(e) for e in errors))


def _number(value: Any) -> float:
    return float(value)  # Prometheus sends sample values as strings, including "NaN" and "+Inf"


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__") + "}"
