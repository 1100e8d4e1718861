"""Phased rollouts: a small canary first, then waves, each with health checks and a rollback condition.

Shared by every tool that changes many assets (drift remediation, patching, image promotion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.timeutil import format_duration, parse_duration


@dataclass(frozen=True)
class RolloutRules:
    canary_max_assets: int = 5
    canary_max_percent: float = 10.0
    wave_max_percent: float = 20.0
    canary_wait: str = "30m"
    wave_wait: str = "15m"
    canary_error_rate: float = 1.0
    wave_error_rate: float = 0.5
    seconds_per_asset: float = 60.0


RULES_BY_ENVIRONMENT = {
    "production": RolloutRules(),
    "staging": RolloutRules(canary_wait="10m", wave_wait="5m", wave_max_percent=34.0, canary_error_rate=2.0, wave_error_rate=2.0),
    "development": RolloutRules(
        canary_wait="2m", wave_wait="1m", wave_max_percent=50.0, canary_error_rate=5.0, wave_error_rate=5.0
    ),
}


def rules_for(environment: str, max_batch_percent: float | None = None) -> RolloutRules:
    base = RULES_BY_ENVIRONMENT.get(environment, RULES_BY_ENVIRONMENT["production"])
    if max_batch_percent is not None and max_batch_percent < base.wave_max_percent:
        return RolloutRules(**{**base.__dict__, "wave_max_percent": float(max_batch_percent)})
    return base


def _pct(value: float) -> str:
    return f"{value:g}%"


def build_phases(asset_ids: list[str], rules: RolloutRules) -> list[dict]:
    """Split ``asset_ids`` (in order) into Canary + Wave N phases as plan-schema dictionaries."""
    total = len(asset_ids)
    if total == 0:
        return []
    canary_size = max(1, min(rules.canary_max_assets, math.floor(total * rules.canary_max_percent / 100)))
    wave_size = max(1, math.floor(total * rules.wave_max_percent / 100))
    chunks = [asset_ids[:canary_size]]
    rest = asset_ids[canary_size:]
    chunks += [rest[i : i + wave_size] for i in range(0, len(rest), wave_size)]
    phases = []
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        if index == 0:
            phase = {
                "name": "Canary",
                "assets": chunk,
                "health_checks": [
                    {"type": "http_200", "target": "/health", "timeout": "30s"},
                    {"type": "error_rate", "threshold": f"< {_pct(rules.canary_error_rate)}", "timeout": "5m"},
                ],
                "rollback_if": f"error_rate > {_pct(rules.canary_error_rate)}",
            }
            wait = rules.canary_wait
        else:
            phase = {
                "name": f"Wave {index}",
                "assets": chunk,
                "health_checks": [{"type": "error_rate", "threshold": f"< {_pct(rules.wave_error_rate)}", "timeout": "5m"}],
                "rollback_if": f"error_rate > {_pct(rules.wave_error_rate)}",
            }
            wait = rules.wave_wait
        if not last:
            phase["wait_time"] = wait
        phases.append(phase)
    return phases


def estimate_duration(phases: list[dict], rules: RolloutRules) -> str:
    seconds = 0.0
    for phase in phases:
        seconds += rules.seconds_per_asset * math.ceil(len(phase["assets"]) / 5)
        if "wait_time" in phase:
            seconds += parse_duration(phase["wait_time"])
    return format_duration(seconds)
