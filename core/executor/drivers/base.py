from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from core.domain import Change, Step


@dataclass(frozen=True)
class AppliedChange:
    asset_id: str
    previous: str | None
    current: str | None


class Driver(ABC):
    """Port: make one change on one asset, and undo it. Raise ExecutionError on failure."""

    name: str

    @abstractmethod
    async def apply(self, change: Change, run_id: str) -> AppliedChange: ...

    @abstractmethod
    async def revert(self, change: Change, applied: AppliedChange, run_id: str) -> None: ...

    @abstractmethod
    async def run_step(self, step: Step, run_id: str) -> str:
        """Carry out one step of a step-only plan (SOP, DR drill); returns what happened."""
