"""A worker that claims due work of one kind, holds each claim while it works, and gives back what it cannot finish.

- Claims up to ``capacity`` due rows per round and drives each in its own task.
- Renews each lease every third of it; a renew that fails means another worker took the work: the task is cancelled
  at once and writes nothing more (its writes are fenced anyway).
- Wakes when told (new work, a release due now), when APScheduler's alarm for the earliest due row rings, and every
  ``poll_interval`` as the safety net.
- On stop, claims still held after the grace are cancelled and given back due now, so the next start (or another
  replica) resumes them without waiting for the lease to lapse.

The executor runs one for runs; asks, outbox deliveries and expiries can run their own over the same table.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.errors import LeaseLost
from core.logcontext import bind
from core.work.queue import Claim, WorkQueue

logger = logging.getLogger(__name__)

CANCEL_WAIT_SECONDS = 5.0  # at stop, how long a cancelled holder gets to unwind
Drive = Callable[[Claim], Coroutine[Any, Any, None]]
OnFailure = Callable[[Claim, BaseException], Awaitable[None]]


class LeasedWorker:
    def __init__(
        self,
        work: WorkQueue,
        kind: str,
        owner: str,
        drive: Drive,
        *,
        lease_seconds: Callable[[], float],
        poll_interval: Callable[[], float],
        capacity: int = 20,
        on_failure: OnFailure | None = None,
        scheduler: AsyncIOScheduler | None = None,
        log_key: str | None = "subject",
    ) -> None:
        self.work = work
        self.kind = kind
        self.owner = owner
        self.drive = drive
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.capacity = capacity
        self.on_failure = on_failure
        self.scheduler = scheduler
        self.log_key = log_key
        self.holding: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._loop is None:
            self._stopping = False
            self._loop = asyncio.create_task(self._run(), name=f"{self.kind}-worker {self.owner}")

    @property
    def running(self) -> bool:
        """The claiming loop is up (``/ready`` of a worker replica)."""
        return self._loop is not None and not self._loop.done()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, timeout: float) -> None:
        """Stop claiming; give holders ``timeout`` seconds, then cut them and give their claims back."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop
            self._loop = None
        holders = dict(self.holding)
        if not holders:
            return
        _, cut = await asyncio.wait(set(holders.values()), timeout=timeout)
        for task in cut:
            subject = next((s for s, t in holders.items() if t is task), "?")
            logger.warning("%s %s: still in progress at shutdown; its claim is given back", self.kind, subject)
            task.cancel()
        if cut:
            await asyncio.wait(cut, timeout=CANCEL_WAIT_SECONDS)

    async def tick(self) -> list[str]:
        """One claiming round: take the due work this worker has room for and start driving it."""
        room = self.capacity - len(self.holding)
        claims = await self.work.claim(self.kind, self.owner, self.lease_seconds(), limit=room)
        for claim in claims:
            task = asyncio.create_task(self._hold(claim), name=f"{self.kind} {claim.subject}")
            self.holding[claim.subject] = task
            task.add_done_callback(functools.partial(self._released, claim.subject))
        return [c.subject for c in claims]

    async def run_until_idle(self, timeout: float) -> None:
        """Drive everything due now to completion (tests, benchmarks, the CLI): claim rounds until nothing of this kind
        is due or held. Raises TimeoutError when work is still due after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.tick()
            if self.holding:
                await asyncio.wait(set(self.holding.values()), timeout=max(0.0, deadline - loop.time()))
                continue
            due = await self.work.earliest_due(self.kind)
            if due is None or due > self.work.clock.now():
                return
        raise TimeoutError(f"{self.kind} work still due after {timeout:g}s")

    def arm(self, due: object) -> None:
        """Ring the alarm at ``due`` (a datetime): the database holds the due time, this only wakes the worker."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.add_job(
                self.wake,
                "date",
                run_date=due,
                id=f"wake:{self.kind}:{self.owner}",
                replace_existing=True,
                misfire_grace_time=None,
            )

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.tick()
                wait = await self._next_wait()
            except Exception:
                logger.exception("the %s worker could not claim work; retrying", self.kind)
                wait = self.poll_interval()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _released(self, subject: str, done: object = None) -> None:
        if self.holding.get(subject) is done:  # a newer claim of the same subject keeps its entry
            self.holding.pop(subject, None)
        self._wake.set()  # work given back due now (e.g. the next phase without a soak) is claimed at once

    async def _next_wait(self) -> float:
        """Seconds until the earliest free due row, bounded by the poll interval; arms the alarm for it."""
        poll = self.poll_interval()
        due = await self.work.earliest_due(self.kind)
        if due is None:
            return poll
        seconds = (due - self.work.clock.now()).total_seconds()
        if 0 < seconds < poll:
            self.arm(due)
        return max(0.0, min(seconds, poll))

    async def _hold(self, claim: Claim) -> None:
        """Drive a claim while renewing its lease every third of it; stop at once when the lease is lost. The failure
        handler runs inside the renewed task too, so a long recovery (a rollback) never runs unleased."""
        with bind(**({self.log_key: claim.subject} if self.log_key else {})):
            drive = asyncio.create_task(self._drive_and_recover(claim))
            current = claim
            try:
                while True:
                    lease = self.lease_seconds()
                    done, _ = await asyncio.wait({drive}, timeout=lease / 3)
                    if done:
                        break
                    try:
                        renewed = await self.work.renew(current, lease)
                    except Exception as exc:  # the database hiccuped: keep the claim while its lease still holds
                        if self.work.clock.now() < current.lease_until:
                            logger.warning("%s %s: could not renew the lease (%s); retrying", self.kind, claim.subject, exc)
                            continue
                        renewed = None
                    if renewed is None:
                        logger.warning(
                            "%s %s: lease lost to another worker; stopping without writing more", self.kind, claim.subject
                        )
                        drive.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await drive
                        return
                    current = renewed
            except asyncio.CancelledError:
                drive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await drive
                await self._give_back(claim)
                raise

    async def _drive_and_recover(self, claim: Claim) -> None:
        try:
            await self.drive(claim)
        except LeaseLost as exc:
            logger.warning("%s %s: %s", self.kind, claim.subject, exc)
        except Exception as exc:
            logger.error("%s %s: the worker failed: %r", self.kind, claim.subject, exc, exc_info=exc)
            if self.on_failure is not None:
                await self.on_failure(claim, exc)

    async def _give_back(self, claim: Claim) -> None:
        with contextlib.suppress(Exception):
            async with self.work.fenced(claim) as conn:
                await self.work.release(conn, claim, due_at=self.work.clock.now())
