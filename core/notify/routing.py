"""Which events go to email (and to whom) and which to webhooks, from the envelope alone.

Without ``notifications.routes``: email gets the events ``notifications.email.on`` names (today's triggers, or
event types) and webhooks get every public event (each entry's own ``events`` list narrows that). With routes: an
event is emailed when a route with ``email: true`` matches it, to the union of the matching routes' ``to`` (a route
without ``to`` uses ``notifications.email.to``); webhooks receive it when a matching route has ``webhooks: true``.
A route matches when the event's type, environment and severity are in its lists (an empty list matches anything).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.config import NotificationRouteConfig
from core.notify.settings import EMAIL_TRIGGER_TYPES
from core.outbox.envelope import INTERNAL_TOPICS, TOPICS, CloudEvent

_PUBLIC = frozenset(TOPICS) - INTERNAL_TOPICS


def is_public(event: CloudEvent) -> bool:
    """Integrations (webhooks, email, NATS) only ever see the public topics, never what is meant for fronts."""
    return event.type in _PUBLIC


def route_matches(route: NotificationRouteConfig, event: CloudEvent) -> bool:
    if route.events and event.type not in route.events:
        return False
    if route.environments:
        environment = (event.environment or "").lower()
        if environment not in {e.lower() for e in route.environments}:
            return False
    return not route.severities or event.severity in route.severities


def trigger_matches(trigger: str, event: CloudEvent) -> bool:
    """One entry of ``notifications.email.on``: a trigger name (``failed``) or an event type (``run.paused``)."""
    if trigger == "rejected":
        return event.type == "plan.decided" and event.data.get("decision") == "rejected"
    if trigger == "approval_required":
        return event.type == "task.approval.required" and event.data.get("requires_approval", True) is not False
    return event.type == EMAIL_TRIGGER_TYPES.get(trigger, trigger)


@dataclass(frozen=True)
class Router:
    routes: Sequence[NotificationRouteConfig] = ()
    email_to: Sequence[str] = ()  # notifications.email.to
    email_on: Sequence[str] = ()  # notifications.email.on (used without routes)

    def email_recipients(self, event: CloudEvent) -> list[str]:
        """Who gets ``event`` by email (in config order, each once); empty: nobody."""
        if not is_public(event) or _about_notifications(event):
            return []
        if not self.routes:
            return list(dict.fromkeys(self.email_to)) if any(trigger_matches(t, event) for t in self.email_on) else []
        recipients: list[str] = []
        for route in self.routes:
            if route.email and route_matches(route, event):
                recipients += route.to or self.email_to
        return list(dict.fromkeys(recipients))

    def email_reason(self, event: CloudEvent) -> str:
        """Why the mail was sent, for its footer."""
        if not self.routes:
            matched = next((t for t in self.email_on if trigger_matches(t, event)), event.type)
            return f"notifications.email.on includes {matched}"
        numbers = [str(i + 1) for i, r in enumerate(self.routes) if r.email and route_matches(r, event)]
        return f"notifications.routes entry {', '.join(numbers)} matched ({event.type}, {event.severity})"

    def webhooks_want(self, event: CloudEvent) -> bool:
        if not is_public(event):
            return False
        return not self.routes or any(r.webhooks and route_matches(r, event) for r in self.routes)


def _about_notifications(event: CloudEvent) -> bool:
    """The audit entry of a refused recipient is never mailed: a refusal must not breed more mail."""
    return event.type == "audit.appended" and str(event.data.get("event", "")).startswith("notification.")
