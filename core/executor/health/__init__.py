"""Health probes measure assets after a phase (error rate, latency, …)."""

from core.executor.health.base import HealthProbe

__all__ = ["HealthProbe", "build_probe"]


def build_probe(name: str, config=None) -> HealthProbe:
    if name == "simulate":
        from core.executor.health.simulate import SimulatedHealth

        return SimulatedHealth(config)
    raise ValueError(f"unknown health probe {name!r}; available: simulate")
