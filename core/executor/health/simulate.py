from __future__ import annotations

from core.domain import Phase
from core.executor.health.base import HealthProbe


class SimulatedHealth(HealthProbe):
    """Healthy numbers, except for assets listed in ``executor.simulate.fail_assets``."""

    name = "simulate"

    def __init__(self, config=None) -> None:
        self.error_rate = getattr(config, "error_rate", 0.1)
        self.failing_error_rate = getattr(config, "failing_error_rate", 5.0)
        self.fail_assets = set(getattr(config, "fail_assets", []) or [])

    async def measure(self, phase: Phase, assets: list[str]) -> dict[str, float]:
        failing = [a for a in assets if a in self.fail_assets]
        healthy_share = 100.0 * (len(assets) - len(failing)) / len(assets) if assets else 100.0
        return {
            "error_rate": self.failing_error_rate if failing else self.error_rate,
            "latency_p99": 480.0 if failing else 120.0,
            "cpu": 35.0,
            "http_ok": healthy_share,
        }
