"""Notifications: email, signed webhooks and NATS JetStream, fed by the transactional outbox.

    outbox → dispatcher → EmailSubscriber | WebhookSubscriber (one per entry) | NatsSubscriber

``build_subscribers(config, store)`` builds what ``notifications`` and ``events`` in the config enable; routing
(which event goes where) is :mod:`core.notify.routing`, the words of a mail :mod:`core.notify.notice`.
The in-process ``NotificationHub`` (hub.py, with the Notifier port, EmailNotifier and WebhookNotifier) is what
ran before the outbox; it goes away once the dispatcher delivers.
"""

from core.notify.base import NotificationError, Notifier
from core.notify.email import EmailNotifier
from core.notify.email_subscriber import EmailSubscriber
from core.notify.hub import NotificationHub, attach_notifiers, build_notifiers
from core.notify.nats_subscriber import NatsSubscriber
from core.notify.notice import Notice, build_notice, notice_for
from core.notify.routing import Router
from core.notify.subscribers import build_subscribers
from core.notify.webhook import WebhookNotifier, signature, verify_signature
from core.notify.webhook_subscriber import WebhookSubscriber, legacy_signature, subscriber_name

__all__ = [
    "EmailNotifier",
    "EmailSubscriber",
    "NatsSubscriber",
    "Notice",
    "NotificationError",
    "NotificationHub",
    "Notifier",
    "Router",
    "WebhookNotifier",
    "WebhookSubscriber",
    "attach_notifiers",
    "build_notice",
    "build_notifiers",
    "build_subscribers",
    "legacy_signature",
    "notice_for",
    "signature",
    "subscriber_name",
    "verify_signature",
]
