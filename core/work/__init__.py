"""Durable work: rows that say when work is due and who holds it (claim, renew, fenced writes, release).

The one mechanism behind runs (the engine) and, later, asks, outbox deliveries and approval expiries.
"""

from core.work.queue import Claim, WorkQueue, worker_id

__all__ = ["Claim", "WorkQueue", "worker_id"]
