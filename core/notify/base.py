"""The Notifier port: deliver one :class:`~core.notify.notice.Notice` somewhere outside OpsPilot.

Implementations (email, webhook) only deliver. Choosing events, building the notice, running
deliveries in the background and recording failures is the hub's job (:mod:`core.notify.hub`),
so every notifier behaves the same way towards the core.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from core.errors import OpsPilotError
from core.notify.notice import Notice


class NotificationError(OpsPilotError):
    """A notifier could not deliver a notice (after its own retries). ``attempts`` says how often it tried."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class Notifier(ABC):
    name: ClassVar[str] = "notifier"

    @property
    @abstractmethod
    def topics(self) -> frozenset[str]:
        """Event topics this notifier may want; the hub builds no notice for other events."""

    @abstractmethod
    def wants(self, notice: Notice) -> bool:
        """Whether this notifier is configured to deliver ``notice``."""

    @abstractmethod
    async def notify(self, notice: Notice) -> None:
        """Deliver ``notice``, retrying transient problems; raise :class:`NotificationError` when that fails."""

    async def close(self) -> None:
        """Release connections. Called once, after the hub has drained its deliveries."""
