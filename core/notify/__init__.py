"""Notifications: email, signed webhooks and NATS JetStream, fed by the transactional outbox.

    outbox → dispatcher → EmailSubscriber | WebhookSubscriber (one per entry) | NatsSubscriber

``build_subscribers(config, store)`` builds what ``notifications`` and ``events`` in the config enable; routing
(which event goes where) is :mod:`core.notify.routing`, the words of a mail :mod:`core.notify.notice`.
"""

from core.notify.email_subscriber import EmailSubscriber
from core.notify.nats_subscriber import NatsSubscriber
from core.notify.notice import Notice, build_notice, notice_for
from core.notify.routing import Router
from core.notify.subscribers import build_subscribers
from core.notify.webhook_subscriber import WebhookSubscriber, legacy_signature, subscriber_name

__all__ = [
    "EmailSubscriber",
    "NatsSubscriber",
    "Notice",
    "Router",
    "WebhookSubscriber",
    "build_notice",
    "build_subscribers",
    "legacy_signature",
    "notice_for",
    "subscriber_name",
]
