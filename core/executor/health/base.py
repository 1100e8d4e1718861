from __future__ import annotations

from abc import ABC, abstractmethod

from core.domain import Phase


class HealthProbe(ABC):
    """Port: measure the assets of a phase; returns metrics named as in ``core.executor.conditions``."""

    name: str

    @abstractmethod
    async def measure(self, phase: Phase, assets: list[str]) -> dict[str, float]: ...
