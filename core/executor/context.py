"""What one worker knows while it holds a run: the claim, the run and plan it loaded, and the engine's parts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock
from core.domain import Plan, Run
from core.events import EventBus
from core.executor.drivers import Driver
from core.executor.health import HealthProbe
from core.store import Store
from core.work import Claim, WorkQueue

PreStartCheck = Callable[[Plan], Awaitable[list[str]]]

RUN_WORK = "run"


@dataclass
class EngineSettings:
    concurrency: int = 10
    max_failures: int | str = 0
    lease_seconds: float = 30.0
    on_inconclusive: str = "pause"
    wait_scale: float = 1.0
    poll_interval: float = 2.0
    max_parallel_runs: int = 20


@dataclass
class Engine:
    """The parts every piece of the executor uses."""

    store: Store
    work: WorkQueue
    driver: Driver
    probe: HealthProbe
    bus: EventBus
    clock: Clock
    settings: EngineSettings
    pre_start_check: PreStartCheck | None = None
    # At each phase boundary of a running run (not before its first phase: pre_start_check covers that): problems
    # pause the run there (a change freeze).
    pre_phase_check: PreStartCheck | None = None

    @property
    def batch_size(self) -> int:
        """Assets marked, run and recorded together: enough to keep the driver busy, few enough that a crash
        repeats little."""
        return min(max(self.settings.concurrency * 25, 250), 1000)


@dataclass
class Holding:
    """A claimed run: every write goes through :meth:`fenced`, which fails once another worker holds it."""

    engine: Engine
    claim: Claim
    run: Run
    plan: Plan

    def fenced(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.engine.work.fenced(self.claim)
