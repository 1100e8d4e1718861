"""The transactional outbox: events written with the state change that caused them, delivered durably to
every subscriber (Slack, email, webhooks, NATS) by whichever replica claims the delivery."""

from __future__ import annotations

from core.outbox.base import Delivery, Subscriber
from core.outbox.envelope import SEVERITY, TOPICS, CloudEvent

__all__ = ["SEVERITY", "TOPICS", "CloudEvent", "Delivery", "Subscriber"]
