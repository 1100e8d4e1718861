from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain import Phase
from core.errors import ExecutionError
from core.executor.health.base import HealthProbe, required_metrics

if TYPE_CHECKING:
    from core.config import SimulateConfig


class SimulatedHealth(HealthProbe):
    """Healthy numbers, except for assets listed in ``executor.simulate.fail_assets``.

    Set ``unavailable`` to a message to simulate a probe outage (``measure`` raises ``ExecutionError``).
    """

    name = "simulate"

    def __init__(self, config: SimulateConfig | None = None) -> None:
        self.error_rate = getattr(config, "error_rate", 0.1)
        self.failing_error_rate = getattr(config, "failing_error_rate", 5.0)
        self.fail_assets = set(getattr(config, "fail_assets", []) or [])
        self.unavailable: str | None = None

    async def measure(self, phase: Phase, assets: list[str]) -> dict[str, float]:
        if self.unavailable:
            raise ExecutionError(f"simulated health probe is unavailable: {self.unavailable}")
        failing = [a for a in assets if a in self.fail_assets]
        healthy_share = 100.0 * (len(assets) - len(failing)) / len(assets) if assets else 100.0
        metrics = {
            "error_rate": self.failing_error_rate if failing else self.error_rate,
            "latency_p99": 480.0 if failing else 120.0,
            "cpu": 35.0,
            "http_ok": healthy_share,
        }
        if "restarts" in required_metrics(phase):
            metrics["restarts"] = float(len(failing))
        return metrics
