"""Health probes measure assets after a phase (error rate, latency, …).

``simulate`` is the embedded default; ``prometheus`` queries a Prometheus server, optionally with
``http_ok`` from real GETs on the assets (``HttpHealth``). See docs/health-checks.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.executor.health.base import HealthCheckFailed, HealthInconclusive, HealthProbe, required_metrics

if TYPE_CHECKING:
    from core.config import ExecutorConfig, SimulateConfig

__all__ = ["HealthCheckFailed", "HealthInconclusive", "HealthProbe", "build_probe", "required_metrics"]

PROBES = ("simulate", "prometheus")


def build_probe(name: str, config: ExecutorConfig | SimulateConfig | None = None) -> HealthProbe:
    """``config`` is the ``executor`` config section (or, for ``simulate``, its ``simulate`` part)."""
    if name == "simulate":
        from core.config import ExecutorConfig
        from core.executor.health.simulate import SimulatedHealth

        return SimulatedHealth(config.simulate if isinstance(config, ExecutorConfig) else config)
    if name == "prometheus":
        from core.executor.health.prometheus import PrometheusHealth

        health = getattr(config, "health", None)
        if health is None:
            raise ValueError("the prometheus health probe needs the executor config (executor.health)")
        return PrometheusHealth.from_config(health)
    raise ValueError(f"unknown health probe {name!r}; available: {', '.join(PROBES)}")
