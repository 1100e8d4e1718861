"""One outbox subscriber per ``notifications.webhooks`` entry: a signed ``POST`` per event.

``format: cloudevents`` (default): the body is the event's CloudEvents JSON (``application/cloudevents+json``),
signed like the http driver's requests (:mod:`core.signing`): ``X-OpsPilot-Timestamp`` (Unix seconds) and
``X-OpsPilot-Signature: v1=<hex HMAC-SHA256 of "timestamp.body">``. ``format: legacy``: the body and
``sha256=<hex HMAC-SHA256 of body>`` signature today's webhook sends, built from the event data, for receivers that
predate the envelope. Both carry ``X-OpsPilot-Event`` and ``X-OpsPilot-Delivery`` (the event id: the same on every
attempt and after a restart, so receivers drop duplicates by it) and ``X-OpsPilot-Attempt``.

One request per ``deliver``: 2xx is done; 5xx, 408, 429, a timeout or a dropped connection raise
``DeliveryFailed`` (with the receiver's ``Retry-After``); any other answer raises ``DeliveryRejected``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from core.clock import SYSTEM_CLOCK, Clock
from core.errors import DeliveryFailed, DeliveryRejected
from core.notify.notice import Notice, build_notice
from core.notify.revive import revive
from core.notify.routing import Router, is_public
from core.notify.settings import NOTIFIED_EVENTS, safe_url
from core.outbox.base import Delivery, Subscriber
from core.outbox.envelope import CloudEvent
from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

if TYPE_CHECKING:
    from core.store import Store

logger = logging.getLogger(__name__)

USER_AGENT = "OpsPilot-Webhook/2"
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
RETRIED_STATUSES = frozenset({408, 429})
_LEGACY_CLASSES = frozenset(NOTIFIED_EVENTS)


def subscriber_name(url: str) -> str:
    """``webhook:<8 hex>``: stable for one URL across restarts and replicas, never the URL (it may hold a token)."""
    return "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:8]


def legacy_signature(body: bytes, secret: str) -> str:
    """Today's ``X-OpsPilot-Signature`` for ``format: legacy``: ``sha256=`` and the HMAC of the body alone."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def legacy_body(notice: Notice) -> bytes:
    return json.dumps(notice.data, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class WebhookSubscriber(Subscriber):
    def __init__(
        self,
        *,
        url: str,
        secret: str | None = None,
        format: str = "cloudevents",
        events: Sequence[str] | None = None,
        timeout: float = 10.0,
        router: Router | None = None,
        store: Store | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if format not in ("cloudevents", "legacy"):
            raise ValueError(f"webhook format is cloudevents or legacy, not {format!r}")
        self.name = subscriber_name(url)
        self.url = url
        self.host = safe_url(url)  # what logs and errors show: never the path or credentials
        self._secret = secret
        self.format = format
        self.events = None if events is None else frozenset(events)
        self.timeout = timeout
        self.router = router or Router()
        self.store = store
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"WebhookSubscriber({self.name}, {self.host}, {self.format}, signed={self._secret is not None})"

    # -- what it wants -----------------------------------------------------------------------

    def wants(self, event: CloudEvent) -> bool:
        if not is_public(event) or not self.router.webhooks_want(event):
            return False
        if self.format == "legacy":
            domain_event = revive(event)
            if domain_event is None or type(domain_event) not in _LEGACY_CLASSES:
                return False  # today's body only described these events
            return self.events is None or event.type in self.events or domain_event.topic in self.events
        return self.events is None or event.type in self.events

    # -- delivering --------------------------------------------------------------------------

    async def request(self, delivery: Delivery) -> tuple[bytes, dict[str, str]]:
        """The body and headers for ``delivery`` (signed now)."""
        event = delivery.event
        headers = {"X-OpsPilot-Delivery": event.id, "X-OpsPilot-Attempt": str(delivery.attempt)}
        if self.format == "legacy":
            notice = await self._legacy_notice(event)
            body = legacy_body(notice)
            headers.update({"Content-Type": "application/json", "X-OpsPilot-Event": notice.topic})
            if self._secret:
                headers[SIGNATURE_HEADER] = legacy_signature(body, self._secret)
            return body, headers
        body = event.to_json().encode()
        headers.update({"Content-Type": CLOUDEVENTS_CONTENT_TYPE, "X-OpsPilot-Event": event.type})
        if self._secret:
            timestamp = str(int(self.clock.now().timestamp()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        return body, headers

    async def _legacy_notice(self, event: CloudEvent) -> Notice:
        domain_event = revive(event)
        notice = await build_notice(domain_event, self.store) if domain_event is not None else None
        if notice is None:
            raise DeliveryRejected(f"event {event.id} ({event.type}) has no legacy webhook body")
        return notice

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        event = delivery.event
        body, headers = await self.request(delivery)
        try:
            async with self._client().post(self.url, data=body, headers=headers, allow_redirects=False) as response:
                status, retry_after = response.status, response.headers.get("Retry-After")
                snippet = (await response.content.read(200)).decode("utf-8", "replace").strip()
        except TimeoutError as exc:
            raise DeliveryFailed(f"webhook {event.type} to {self.host}: no answer within {self.timeout:g}s") from exc
        except aiohttp.InvalidURL as exc:  # pragma: no cover - the config check refuses these
            raise DeliveryRejected(f"webhook {event.type}: invalid URL for {self.host}") from exc
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(f"webhook {event.type} to {self.host}: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if 200 <= status < 300:
            logger.info(
                "webhook %s %s delivered to %s (attempt %d, HTTP %d)", event.type, event.id, self.host, delivery.attempt, status
            )
            return {"status": status}
        problem = f"webhook {event.type} to {self.host}: HTTP {status}" + (f": {snippet}" if snippet else "")
        if status >= 500 or status in RETRIED_STATUSES:
            raise DeliveryFailed(problem, retry_after=retry_after_seconds(retry_after, self.clock))
        raise DeliveryRejected(problem)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def retry_after_seconds(value: str | None, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - clock.now()).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
