"""The subscriber port: whatever hears events from the outbox (Slack thread and card updates, email, webhooks,
NATS). One contract for all of them:

- ``name`` is stable across restarts and replicas: delivery rows are keyed by it.
- ``wants`` decides from the envelope alone (type, environment, severity) whether a delivery row is created.
- ``deliver`` performs the side effect once per event id. It returns a small JSON-able result that is recorded
  with the delivery (a Slack ``ts``, refused recipients), or None. It raises :class:`core.errors.DeliveryFailed`
  (retried with backoff until the attempts run out, then dead-lettered) or
  :class:`core.errors.DeliveryRejected` (dead-lettered at once: retrying cannot help).
- ``delivery.unfinished`` says an earlier attempt started and its outcome is unknown (the process died during
  it): a subscriber that can check whether the side effect already happened (Slack: the thread) does so first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from core.outbox.envelope import CloudEvent


@dataclass(frozen=True)
class Delivery:
    event: CloudEvent
    attempt: int  # 1 for the first try
    unfinished: bool = False  # an earlier attempt started and never recorded its outcome
    previous_result: dict[str, Any] | None = field(default=None)


class Subscriber(ABC):
    name: str

    @abstractmethod
    def wants(self, event: CloudEvent) -> bool:
        """True when this subscriber should receive ``event`` (decided when the event is written)."""

    @abstractmethod
    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        """Perform the side effect for ``delivery.event``; idempotent by ``delivery.event.id``."""

    async def close(self) -> None:
        """Release connections; called once at shutdown."""
