"""Slack's side of Socket Mode, on loopback: the emulator delivers over a WebSocket instead of signed HTTP requests.

The protocol, as Slack speaks it and slack_sdk's aiohttp client expects it:

- ``apps.connections.open`` (authenticated with the app-level ``xapp-`` token) answers a one-use
  ``ws://…/socket-mode/<ticket>`` URL;
- on connect the server sends ``{"type": "hello", "num_connections": n, …}``;
- each delivery is an envelope ``{"envelope_id", "type": "events_api"|"slash_commands"|"interactive", "payload",
  "accepts_response_payload"}`` (``retry_attempt``/``retry_reason`` on a redelivery); the app answers with an ack
  ``{"envelope_id", "payload"?}``, whose payload is what the HTTP answer's body would have been;
- ``{"type": "disconnect", "reason": "refresh_requested"|"link_disabled"}`` asks the app to open a new connection;
  envelopes wait for it, so nothing sent after a refresh is lost.

    server = SocketModeServer(app_token="xapp-1-playground")
    server.register(app); server.base_url = "http://127.0.0.1:3000"
    ack = await server.deliver("slash_commands", {...})      # the ack's payload ({} when the ack carried none)
    await server.disconnect("refresh_requested"); await server.send_raw("not json")
    server.opened, server.acks, server.envelopes, server.connected
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.playground.delivery import DeliveryError
from bot.playground.records import Delivery
from bot.playground.seeds import APP_ID

logger = logging.getLogger(__name__)

ENVELOPE_TYPES = ("events_api", "slash_commands", "interactive")
DISCONNECT_REASONS = ("refresh_requested", "link_disabled", "warning")
ROUTE = "/socket-mode/{ticket}"


class SocketModeError(Exception):
    """No app is connected, or it did not ack an envelope in time."""


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    number: int
    retiring: bool = False


@dataclass
class SocketModeServer:
    app_token: str
    ack_timeout: float = 10.0
    connect_timeout: float = 10.0
    base_url: str | None = None
    opened: int = 0  # apps.connections.open calls answered
    acks: list[dict[str, Any]] = field(default_factory=list)  # every ack received, in order
    envelopes: list[dict[str, Any]] = field(default_factory=list)  # every envelope sent, in order
    unreadable: list[str] = field(default_factory=list)  # frames from the app that were not an ack
    _tickets: set[str] = field(default_factory=set)
    _connections: list[_Connection] = field(default_factory=list)
    _pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _count: int = 0

    def register(self, app: web.Application) -> None:
        app.router.add_get(ROUTE, self._websocket)
        app.on_shutdown.append(self._on_shutdown)

    # -- the Web API method --------------------------------------------------

    def open_connection(self) -> dict[str, Any]:
        """``apps.connections.open``: a one-use WebSocket URL."""
        if self.base_url is None:
            raise SocketModeError("SocketModeServer.base_url is unknown")
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        self.opened += 1
        return {"url": "ws" + self.base_url.removeprefix("http") + ROUTE.replace("{ticket}", ticket)}

    # -- what the app sees ---------------------------------------------------

    @property
    def connected(self) -> int:
        """Open connections that are not being retired."""
        return sum(1 for c in self._connections if not c.retiring and not c.ws.closed)

    async def wait_connected(self, timeout: float | None = None) -> None:
        await self._current(timeout)

    async def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> dict[str, Any]:
        """Sends one envelope and returns the ack's payload ({} when the ack carried none)."""
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        return await self.send_envelope(envelope)

    async def send_envelope(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Sends ``envelope`` as is and waits for the ack of its ``envelope_id``."""
        envelope_id = str(envelope["envelope_id"])
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = waiter
        try:
            connection = await self._current()
            self.envelopes.append(envelope)
            await connection.ws.send_json(envelope)
            try:
                return await asyncio.wait_for(waiter, self.ack_timeout)
            except TimeoutError as exc:
                raise SocketModeError(
                    f"envelope {envelope_id} ({envelope.get('type')}) not acked in {self.ack_timeout}s"
                ) from exc
        finally:
            self._pending.pop(envelope_id, None)

    async def send_raw(self, data: str | dict[str, Any]) -> None:
        """Sends a frame as is (a malformed envelope, an unknown type); waits for nothing."""
        connection = await self._current()
        await connection.ws.send_str(data if isinstance(data, str) else json.dumps(data))

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Asks the app to reconnect. ``link_disabled`` also closes the connection right away, as Slack does when
        Socket Mode is turned off and on again; after ``refresh_requested`` the app closes the old one itself."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"unknown disconnect reason {reason!r}; use one of {', '.join(DISCONNECT_REASONS)}")
        connection = await self._current()
        connection.retiring = True
        await connection.ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "playground"}})
        if reason == "link_disabled":
            await connection.ws.close()

    # -- internals -----------------------------------------------------------

    async def _current(self, timeout: float | None = None) -> _Connection:
        """The newest live connection; waits for the app to (re)connect."""
        deadline = time.monotonic() + (self.connect_timeout if timeout is None else timeout)
        while True:
            live = [c for c in self._connections if not c.retiring and not c.ws.closed]
            if live:
                return live[-1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SocketModeError("no app is connected over Socket Mode (did it call apps.connections.open?)")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            return web.json_response({"error": "invalid_ticket", "message": "Call apps.connections.open first."}, status=401)
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # answers the client's pings with pongs (autoping)
        await ws.prepare(request)
        self._count += 1
        connection = _Connection(ws, self._count)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": self.connected + 1,
                "debug_info": {"host": "playground", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        for old in self._connections:  # Slack closes a refreshed connection once its successor is up
            if old.retiring and not old.ws.closed:
                await old.ws.close()
        self._connections.append(connection)
        self._changed.set()
        logger.info("Socket Mode connection %d open", connection.number)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._receive(message.data)
        finally:
            self._connections.remove(connection)
            self._changed.set()
            logger.info("Socket Mode connection %d closed", connection.number)
        return ws

    def _receive(self, text: str) -> None:
        try:
            ack = json.loads(text)
        except ValueError:
            ack = None
        if not isinstance(ack, dict) or not isinstance(ack.get("envelope_id"), str):
            self.unreadable.append(text[:500])
            return
        self.acks.append(ack)
        waiter = self._pending.get(ack["envelope_id"])
        if waiter is not None and not waiter.done():
            payload = ack.get("payload")
            waiter.set_result(payload if isinstance(payload, dict) else {})

    async def _on_shutdown(self, app: web.Application) -> None:
        for connection in list(self._connections):
            await connection.ws.close()


class SocketDeliverer:
    """Delivers what BotDeliverer would POST as Socket Mode envelopes instead (the bot URL is not used)."""

    def __init__(self, server: SocketModeServer) -> None:
        self._server = server

    async def close(self) -> None:
        return None

    async def send_form(self, url: str | None, fields: dict[str, str], kind: str) -> Delivery:
        return await self._send("slash_commands", dict(fields), kind)

    async def send_interactive(self, url: str | None, payload: dict[str, Any], kind: str) -> Delivery:
        return await self._send("interactive", payload, kind)

    async def send_event(self, url: str | None, envelope: dict[str, Any], kind: str) -> Delivery:
        return await self._send("events_api", envelope, kind)

    async def _send(self, envelope_type: str, payload: dict[str, Any], kind: str) -> Delivery:
        started = time.monotonic()
        try:
            ack = await self._server.deliver(envelope_type, payload)
        except SocketModeError as exc:
            raise DeliveryError(f"delivering {kind} over Socket Mode failed: {exc}") from exc
        return Delivery(status=200, body=ack or "", headers={}, kind=kind, elapsed=time.monotonic() - started)
