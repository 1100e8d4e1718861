"""Hears domain events, builds one notice per event, and delivers it to every notifier that wants it.

Delivery runs in background tasks, so a slow SMTP server or webhook receiver never holds up the
executor. A failed delivery is logged and written to the audit log as ``notification.failed``
(on the run, else the plan, else the task); it is never raised into the core. ``close`` waits
for deliveries in flight (up to a timeout), cancels what is left and audits each as
``notification.dropped``, then closes the notifiers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from core.config import Config
from core.errors import ConfigError
from core.events import Event, EventBus
from core.logcontext import bind
from core.notify.base import Notifier
from core.notify.email import EmailNotifier
from core.notify.notice import Notice, build_notice
from core.notify.settings import NOTIFIED_EVENTS
from core.notify.webhook import WebhookNotifier
from core.store import Store

logger = logging.getLogger(__name__)

ACTOR = "opspilot"
DRAIN_TIMEOUT_SECONDS = 10.0
MAX_IN_FLIGHT = 8  # concurrent deliveries per notifier


class NotificationHub:
    def __init__(
        self,
        notifiers: Sequence[Notifier],
        store: Store | None = None,
        *,
        drain_timeout: float = DRAIN_TIMEOUT_SECONDS,
    ) -> None:
        self.notifiers = list(notifiers)
        self.store = store
        self.drain_timeout = drain_timeout
        self._tasks: dict[asyncio.Task[None], Event] = {}
        self._limits = {id(n): asyncio.Semaphore(MAX_IN_FLIGHT) for n in self.notifiers}
        self._unsubscribe: list[Any] = []
        self._closed = False

    def subscribe(self, bus: EventBus) -> None:
        if self.notifiers:
            self._unsubscribe.append(bus.subscribe(self.on_event, *NOTIFIED_EVENTS))

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def on_event(self, event: Event) -> None:
        """The bus handler: returns at once; the work happens in a task."""
        if self._closed or not any(event.topic in n.topics for n in self.notifiers):
            return
        task = asyncio.get_running_loop().create_task(self._handle(event), name=f"notify:{event.topic}")
        self._tasks[task] = event
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _handle(self, event: Event) -> None:
        try:
            notice = await build_notice(event, self.store)
        except Exception:
            logger.exception("could not build the notice for %s", event.topic)
            return
        if notice is None:
            return
        targets = [n for n in self.notifiers if n.wants(notice)]
        await asyncio.gather(*(self._deliver(n, notice) for n in targets))

    async def _deliver(self, notifier: Notifier, notice: Notice) -> None:
        with bind(task_id=notice.task_id, plan_id=notice.plan_id, run_id=notice.run_id):
            async with self._limits[id(notifier)]:
                try:
                    await notifier.notify(notice)
                except Exception as exc:
                    logger.warning("%s notification for %s (%s) failed: %s", notifier.name, notice.topic, notice.kind, exc)
                    await self._record_failure(notifier, notice, exc)

    async def _record_failure(self, notifier: Notifier, notice: Notice, exc: Exception) -> None:
        entity = next(
            ((kind, getattr(notice, f"{kind}_id")) for kind in ("run", "plan", "task") if getattr(notice, f"{kind}_id")), None
        )
        if self.store is None or entity is None:
            return
        details = {
            "notifier": notifier.name,
            "topic": notice.topic,
            "kind": notice.kind,
            "attempts": getattr(exc, "attempts", 1),
            "error": str(exc)[:500],
        }
        try:
            await self.store.append_audit(entity[0], entity[1], "notification.failed", ACTOR, details)
        except Exception:
            logger.exception("could not record the failed %s notification for %s %s", notifier.name, *entity)

    async def _record_dropped(self, event: Event) -> None:
        """A delivery cut by shutdown is not retried by the next start, so the audit log says it never arrived."""
        ids = ((kind, getattr(event, f"{kind}_id", None)) for kind in ("run", "plan", "task"))
        entity = next(((kind, entity_id) for kind, entity_id in ids if entity_id), None)
        if self.store is None or entity is None:
            return
        details = {"topic": event.topic, "reason": "still being delivered at shutdown"}
        try:
            await self.store.append_audit(entity[0], entity[1], "notification.dropped", ACTOR, details)
        except Exception:
            logger.exception("could not record the dropped %s notification for %s %s", event.topic, *entity)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until no delivery is in flight; True if that happened within ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def close(self, timeout: float | None = None) -> None:
        """Stop hearing events, let deliveries finish (up to ``timeout``), cancel the rest, close the notifiers."""
        self._closed = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if not await self.drain(self.drain_timeout if timeout is None else timeout):
            left = dict(self._tasks)
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            logger.warning("dropped %d notification(s) still being delivered at shutdown", len(left))
            for event in left.values():
                await self._record_dropped(event)
        for notifier in self.notifiers:
            try:
                await notifier.close()
            except Exception:
                logger.exception("closing the %s notifier failed", notifier.name)


def build_notifiers(config: Config) -> list[Notifier]:
    """The notifiers ``config.notifications`` enables (the pre-outbox path; :func:`core.notify.build_subscribers`
    replaces it). Raises ConfigError for settings that need a secret."""
    section = config.notifications
    notifiers: list[Notifier] = []
    email = section.email
    if email.enabled:
        password = config.secret(email.password_env)
        if email.username and not password:
            raise ConfigError(f"notifications.email.username is set but {email.password_env} is not; set it in the environment")
        if password and not email.username:
            logger.warning("%s is set but notifications.email.username is not; sending without login", email.password_env)
        notifiers.append(
            EmailNotifier(
                smtp_host=email.host or "",
                smtp_port=email.smtp_port,
                from_address=email.from_ or "",
                to=email.to,
                on=email.on,
                starttls=email.tls == "starttls",
                username=email.username,
                password=password,
                timeout_seconds=email.timeout,
                max_attempts=3,
            )
        )
    for hook in section.webhooks:
        secret = config.secret(hook.secret_env)
        if secret is None:
            logger.warning("%s is not set; webhook requests will not be signed", hook.secret_env)
        notifiers.append(
            WebhookNotifier(
                url=hook.url,
                secret=secret,
                events=hook.events,
                timeout_seconds=hook.timeout,
                max_attempts=5,
                backoff_seconds=1.0,
            )
        )
    return notifiers


def attach_notifiers(config: Config, bus: EventBus, store: Store | None = None) -> NotificationHub:
    """Build the configured notifiers and subscribe them to ``bus``; close the hub on shutdown."""
    hub = NotificationHub(build_notifiers(config), store)
    hub.subscribe(bus)
    if hub.notifiers:
        logger.info("notifications on: %s", ", ".join(repr(n) for n in hub.notifiers))
    return hub
