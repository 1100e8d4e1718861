"""Every public event published to a NATS JetStream stream (``events.nats``), as an outbox subscriber.

Subject ``<subject_prefix>.<type>`` (``opspilot.task.failed``), payload the CloudEvents JSON, header
``Nats-Msg-Id: <event id>``: JetStream drops a second copy of one event id within the stream's duplicate window, so
a publish repeated after a crash or a lost ack is stored once. The stream is created when missing (subjects
``<subject_prefix>.>``, duplicate window one hour); an existing stream is used as it is.

The connection is made on the first delivery and reconnects by itself for a while after losing the server;
while the server is away a publish times out and raises ``DeliveryFailed`` (the dispatcher retries with backoff),
and a connection that gave up is replaced on the next delivery.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from core.errors import DeliveryFailed, DeliveryRejected
from core.notify.routing import is_public
from core.notify.settings import safe_url
from core.outbox.base import Delivery, Subscriber
from core.outbox.envelope import CloudEvent

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 3600.0  # for a stream OpsPilot creates: longer than any retry of one delivery
RECONNECT_ATTEMPTS = 30  # then the connection closes and the next delivery makes a new one
RECONNECT_WAIT_SECONDS = 1.0


class NatsSubscriber(Subscriber):
    name = "nats"

    def __init__(self, *, url: str, stream: str = "OPSPILOT", subject_prefix: str = "opspilot", timeout: float = 5.0) -> None:
        self.url = url
        self.where = ", ".join(safe_url(u.strip()) for u in url.split(","))  # never credentials in logs
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.timeout = timeout
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None
        self._stream_ready = False
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"NatsSubscriber({self.where}, stream={self.stream}, subjects={self.subject_prefix}.>)"

    def wants(self, event: CloudEvent) -> bool:
        return is_public(event)

    def subject(self, event: CloudEvent) -> str:
        return f"{self.subject_prefix}.{event.type}"

    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        event = delivery.event
        js = await self._ready()
        try:
            ack = await js.publish(
                self.subject(event),
                event.to_json().encode(),
                timeout=self.timeout,
                stream=self.stream,
                headers={"Nats-Msg-Id": event.id},
            )
        except nats.js.errors.NoStreamResponseError as exc:
            self._stream_ready = False  # deleted under us, or JetStream is off: look again next time
            raise DeliveryFailed(f"NATS {self.where}: no stream answers for {self.subject(event)}") from exc
        except nats.js.errors.APIError as exc:
            if exc.code is not None and 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise DeliveryRejected(f"NATS {self.where}: stream {self.stream} refused {event.id}: {exc}") from exc
            raise DeliveryFailed(f"NATS {self.where}: {exc}") from exc
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"NATS {self.where}: publish of {event.type} failed: {type(exc).__name__}: {exc}") from exc
        return {"stream": ack.stream, "seq": ack.seq, "duplicate": bool(ack.duplicate)}

    async def _ready(self) -> JetStreamContext:
        async with self._lock:
            if self._client is None or self._client.is_closed or self._jetstream is None:
                await self._connect()
            assert self._jetstream is not None
            if not self._stream_ready:
                await self._ensure_stream(self._jetstream)
                self._stream_ready = True
            return self._jetstream

    async def _connect(self) -> None:
        await self._drop()
        client = Client()
        try:
            await asyncio.wait_for(
                client.connect(
                    servers=[u.strip() for u in self.url.split(",")],
                    name="opspilot",
                    connect_timeout=max(1, int(self.timeout)),
                    allow_reconnect=True,
                    max_reconnect_attempts=RECONNECT_ATTEMPTS,
                    reconnect_time_wait=RECONNECT_WAIT_SECONDS,  # type: ignore[arg-type]  # a float works
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                ),
                timeout=self.timeout * 2,
            )
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            await _close_quietly(client)
            raise DeliveryFailed(f"NATS {self.where}: cannot connect: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
        self._client = client
        self._jetstream = client.jetstream(timeout=self.timeout)
        self._stream_ready = False
        logger.info("connected to NATS %s", self.where)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        wanted = f"{self.subject_prefix}.>"
        try:
            try:
                info = await js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                config = StreamConfig(name=self.stream, subjects=[wanted], duplicate_window=DUPLICATE_WINDOW_SECONDS)
                try:
                    await js.add_stream(config)
                    logger.info("created the NATS stream %s for %s", self.stream, wanted)
                    return
                except nats.js.errors.BadRequestError:  # another replica created it meanwhile
                    info = await js.stream_info(self.stream)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise DeliveryFailed(
                f"NATS {self.where}: cannot find or create stream {self.stream}: {type(exc).__name__}: {exc}"
            ) from exc
        subjects = list(info.config.subjects or [])
        if wanted not in subjects and ">" not in subjects:
            raise DeliveryRejected(
                f"NATS stream {self.stream} exists but does not take {wanted} (its subjects: {', '.join(subjects) or 'none'}); "
                "add the subject to the stream or set events.nats.stream / subject_prefix"
            )

    async def _on_error(self, exc: Exception) -> None:
        logger.warning("NATS %s: %s: %s", self.where, type(exc).__name__, exc)

    async def _on_disconnected(self) -> None:
        logger.warning("NATS %s: disconnected; reconnecting", self.where)

    async def _on_reconnected(self) -> None:
        logger.info("NATS %s: reconnected", self.where)

    async def _drop(self) -> None:
        client, self._client, self._jetstream = self._client, None, None
        if client is not None:
            await _close_quietly(client)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


async def _close_quietly(client: Client) -> None:
    try:
        await client.close()
    except Exception as exc:  # closing a half-made or lost connection may fail in many ways; nothing to do
        logger.debug("closing a NATS connection: %s", exc)
