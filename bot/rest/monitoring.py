"""``GET /ready`` (this process can do its role: the database answers, and a front has its Slack and REST routes
mounted, a worker its workers running) and ``GET /metrics`` (Prometheus text format).

Both are unauthenticated like ``/health``: load balancers and Prometheus call them, and they carry no
ids, intents or secrets, only counts by state, agent and tool name.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from core.metrics import CONTENT_TYPE, Metrics
from core.service import OpsPilot

logger = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 5.0


def monitoring_routes(app: web.Application, service: OpsPilot, metrics: Metrics, state: dict) -> None:
    async def ready(_: web.Request) -> web.Response:
        if not state.get("ready"):
            return web.json_response({"status": "starting", "database": "unknown"}, status=503)
        try:
            await asyncio.wait_for(_ping(service), READY_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means: do not send traffic here
            logger.warning("readiness: the database does not answer: %s", type(exc).__name__)
            return web.json_response(
                {
                    "status": "unavailable",
                    "database": "error",
                    "message": f"the database did not answer a trivial query ({type(exc).__name__}); check DATABASE_URL and the server",
                },
                status=503,
            )
        role = state.get("role", "all")
        missing = []
        if role in ("all", "front") and not state.get("routes"):
            missing.append("the Slack and REST routes are not mounted")
        if role in ("all", "worker") and not service.workers_running:
            missing.append("its workers (asks, runs, approval expiries, outbox deliveries) are not all running")
        if missing:
            return web.json_response(
                {"status": "unavailable", "database": "ok", "role": role, "message": "; ".join(missing)}, status=503
            )
        return web.json_response({"status": "ready", "database": "ok", "role": role})

    async def exposition(_: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(metrics.refresh(service), READY_TIMEOUT_SECONDS)
        except Exception as exc:  # the counters in memory are still worth a scrape
            logger.warning("metrics: could not read the delivery backlog: %s", type(exc).__name__)
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", exposition)


async def _ping(service: OpsPilot) -> None:
    await service.queries.readiness()
