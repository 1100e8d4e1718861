"""``http_ok`` from real GETs: the share of a phase's assets that answer 200 on every ``http_200`` target.

The URL of an asset comes from a template, by default ``{scheme}://{asset}:{port}{target}``, so asset
ids must resolve as host names (or the template maps them, e.g. ``https://{asset}.internal{target}``);
``{address}`` is the asset's ``address`` from the inventory (its id when it has none).
An asset that times out, refuses the connection or answers anything but 200 counts as not OK; that is
a measurement, not a probe failure. This probe measures ``http_ok`` only: a phase that needs another
metric gets an ``ExecutionError`` naming it (use it behind ``PrometheusHealth`` for the rest).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp

from core.domain import Phase
from core.errors import ExecutionError
from core.executor.health.base import HealthProbe, required_metrics

if TYPE_CHECKING:
    from core.config import HttpHealthConfig

logger = logging.getLogger(__name__)

DEFAULT_URL_TEMPLATE = "{scheme}://{asset}:{port}{target}"
AddressResolver = Callable[[list[str]], Awaitable[dict[str, str]]]
DEFAULT_TARGET = "/health"


class HttpHealth(HealthProbe):
    name = "http"

    def __init__(
        self,
        *,
        url_template: str = DEFAULT_URL_TEMPLATE,
        scheme: str = "http",
        port: int = 80,
        timeout_seconds: float = 5.0,
        max_concurrency: int = 20,
    ) -> None:
        self.url_template = url_template
        self.scheme = scheme
        self.port = port
        self.timeout_seconds = timeout_seconds
        self.max_concurrency = max_concurrency
        self._session: aiohttp.ClientSession | None = None
        self._resolve: AddressResolver | None = None

    @classmethod
    def from_config(cls, http: HttpHealthConfig) -> HttpHealth:
        return cls(
            url_template=http.url_template,
            scheme=http.scheme,
            port=http.port,
            timeout_seconds=http.timeout_seconds,
            max_concurrency=http.max_concurrency,
        )

    def use_addresses(self, resolve: AddressResolver) -> None:
        """Fill ``{address}`` from the inventory (an asset's ``address``, else its id)."""
        self._resolve = resolve

    def url(self, asset: str, target: str, address: str | None = None) -> str:
        if not target.startswith("/"):
            target = "/" + target
        try:
            return self.url_template.format(
                scheme=self.scheme, asset=asset, address=address or asset, port=self.port, target=target
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise ExecutionError(f"cannot build a health URL from {self.url_template!r}: {exc!r}") from exc

    async def measure(self, phase: Phase, assets: list[str]) -> dict[str, float]:
        others = [m for m in required_metrics(phase) if m != "http_ok"]
        if others:
            raise ExecutionError(
                f"phase {phase.name!r} needs {', '.join(others)}, which the http probe cannot measure; "
                "use executor.health.probe: prometheus"
            )
        return {"http_ok": await self.http_ok(phase, assets)}

    async def http_ok(self, phase: Phase, assets: list[str]) -> float:
        """Percent of ``assets`` answering 200 on every ``http_200`` target of the phase (``/health`` if none)."""
        if not assets:
            return 100.0
        targets = list(dict.fromkeys(c.target or DEFAULT_TARGET for c in phase.health_checks if c.type == "http_200"))
        targets = targets or [DEFAULT_TARGET]
        addresses = await self._resolve(assets) if self._resolve is not None else {}
        urls = {asset: [self.url(asset, t, addresses.get(asset)) for t in targets] for asset in assets}
        session = self._session_for_loop()
        limit = asyncio.Semaphore(self.max_concurrency)
        results = await asyncio.gather(*(self._asset_ok(session, limit, asset, urls[asset]) for asset in assets))
        return 100.0 * sum(results) / len(assets)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def _asset_ok(self, session: aiohttp.ClientSession, limit: asyncio.Semaphore, asset: str, urls: list[str]) -> bool:
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        for url in urls:
            async with limit:
                try:
                    async with session.get(url, timeout=timeout, allow_redirects=False) as response:
                        if response.status != 200:
                            logger.info("health GET %s for %s answered %d", url, asset, response.status)
                            return False
                except TimeoutError:
                    logger.info("health GET %s for %s timed out after %gs", url, asset, self.timeout_seconds)
                    return False
                except aiohttp.ClientError as exc:
                    logger.info("health GET %s for %s failed: %s", url, asset, exc or type(exc).__name__)
                    return False
        return True

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session
