"""Asks as durable work: a front records an ask and acks; a worker claims it, plans it and answers through the outbox."""

from core.asks.queue import ASK_WORK, AskQueue, RecordedAsk
from core.asks.worker import AskWorker

__all__ = ["ASK_WORK", "AskQueue", "AskWorker", "RecordedAsk"]
