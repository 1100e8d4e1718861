"""Running OpsPilot: the aiohttp server (``POST /slack/events``, ``GET /health``, ``/ready``, ``/metrics``, the REST
API under ``/api/v1/ai``) in one of three modes.

- ``http``: real Slack delivers signed requests to ``/slack/events``.
- ``socket``: real Slack over Socket Mode (``SLACK_APP_TOKEN``); the HTTP server still answers ``/health``.
- ``playground``: no Slack at all; a local workspace emulator shares the server and serves the page at ``/`` (and,
  with ``socket_mode``, delivers over a local Socket Mode WebSocket instead of ``/slack/events``).

and in one of three roles (``opspilot serve --role``): ``all`` (the default), ``front`` (answers Slack and the REST
API, records asks, runs no worker) and ``worker`` (plans asks, runs rollouts, expires approvals and delivers the
outbox; its HTTP server answers only ``/health``, ``/ready`` and ``/metrics``).
"""

from __future__ import annotations

import errno
import gc
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.app import build_app
from bot.groups import SlackGroupDirectory
from bot.oauth.flow import oauth_routes
from bot.oauth.mode import oauth_mode
from bot.rest import monitoring_routes, rest_routes
from bot.slack_delivery import SlackSubscriber
from bot.slack_limits import SharedRateLimits, delivery_client, request_client, use_shared_limits
from bot.slack_request import Refusal, decode_body, header_refusal, payload_refusal
from bot.untrusted import excerpt, quiet_protocol_errors
from core.asks.pressure import IntakePressure
from core.config import Config
from core.errors import ConfigError
from core.metrics import Metrics
from core.service import OpsPilot, Role

if TYPE_CHECKING:
    from bot.socket_mode import SocketModeHandler

logger = logging.getLogger(__name__)

Mode = Literal["http", "socket", "playground"]
PLAYGROUND_WAIT_SCALE = 0.005  # a 30 minute canary wait becomes 9 seconds
MAX_BODY_BYTES = 1024 * 1024
ROLES: tuple[Role, ...] = ("all", "front", "worker")


def choose_mode(config: Config, force_playground: bool = False) -> Mode:
    if force_playground or not config.slack.has_credentials:
        return "playground"
    if config.slack.app_token is not None:
        return "socket"
    return "http"


def free_port(host: str, start: int, attempts: int = 50) -> int:
    """``start`` if it is free, else the next free port after it."""
    for port in range(start, start + attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            return port
    raise ConfigError(f"no free port between {start} and {start + attempts - 1} on {host}")


@dataclass
class Running:
    mode: Mode
    service: OpsPilot
    url: str
    runner: web.AppRunner
    bolt: AsyncApp
    emulator: object | None = None
    socket_handler: SocketModeHandler | None = None
    slack: SlackSubscriber | None = None  # the outbox subscriber that writes cards and threads
    state: dict = field(default_factory=dict)

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking requests (503 from now on), give phases, notifications and Slack updates in flight
        ``grace`` seconds (``shutdown_grace``), then close the server and the database. Unfinished runs
        keep their stored progress and resume at the next start."""
        self.state["ready"], self.state["draining"] = False, True
        if self.socket_handler is not None:
            await self.socket_handler.close_async()
        await self.service.drain(grace)  # Slack updates not delivered yet stay in the outbox for the next start
        await self.runner.cleanup()
        await self.service.close()


DRAINED_PATHS = ("/slack/", "/api/")


def draining_guard(state: dict) -> Callable[..., Awaitable[web.StreamResponse]]:
    """While shutting down, new Slack deliveries and API calls get 503 (Slack retries them; the next
    process answers), and /health and /ready say "stopping" so load balancers move on."""

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if state.get("draining"):
            if request.path.startswith(DRAINED_PATHS):
                return web.json_response(
                    {"error": "shutting_down", "message": "OpsPilot is shutting down; retry in a moment."},
                    status=503,
                    headers={"Retry-After": "5"},
                )
            if request.path in ("/health", "/ready"):
                return web.json_response({"status": "stopping"}, status=503)
        return await handler(request)

    return guard


def slack_routes(
    app: web.Application, bolt: AsyncApp, state: dict, signing_secret: str, pressure: IntakePressure | None = None
) -> None:
    """``POST /slack/events``. ``pressure``: counts deliveries in flight, so this replica's ask workers plan in the
    quiet moments between them (acks first)."""
    verifier = SignatureVerifier(signing_secret)
    quiet_protocol_errors()
    pressure = pressure or IntakePressure()

    async def events(request: web.Request) -> web.Response:
        with pressure.handling():
            return await handle(request)

    async def handle(request: web.Request) -> web.Response:
        # Every check runs before Bolt parses anything, so no body or header of any shape gets a 5xx.
        raw = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}  # the last of repeated headers, like Bolt
        refusal = header_refusal(
            {
                "X-Slack-Request-Timestamp": headers.get("x-slack-request-timestamp"),
                "X-Slack-Signature": headers.get("x-slack-signature"),
            }
        )
        if refusal is not None:
            return refusal.response()
        body = decode_body(raw, request.charset)
        if isinstance(body, Refusal):
            return body.response()
        if not verifier.is_valid_request(body, headers):
            return web.json_response({"error": "invalid_signature", "message": "The signature does not match."}, status=401)
        content_type = headers.get("content-type", "").split(";")[0] or None
        refusal = payload_refusal(body, content_type)
        if refusal is not None:
            logger.warning("signed Slack request refused (%s): %s", refusal.message, excerpt(body))
            return refusal.response()
        try:
            # A copy, because Bolt's parameter is a dict[str, str | Sequence[str]] (and dicts are invariant).
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=dict(headers))
            bolt_response = await bolt.async_dispatch(bolt_request)
        except Exception as exc:
            logger.warning("signed Slack request that could not be read (%s): %s", type(exc).__name__, excerpt(body))
            return Refusal(400, "unreadable_request", "OpsPilot could not read this request.").response()
        if bolt_response.status == 503:
            return await to_aiohttp_response(bolt_response)  # the intake could not record it: Slack retries later
        if bolt_response.status >= 500:
            # A listener failed before it acknowledged; the error handler has logged it. Slack must not retry.
            return Refusal(400, "unreadable_request", "OpsPilot could not handle this request.").response()
        return await to_aiohttp_response(bolt_response)

    app.router.add_post("/slack/events", events)


def health_routes(app: web.Application, state: dict) -> None:
    async def health(_: web.Request) -> web.Response:
        if not state.get("ready"):
            return web.json_response({"status": "starting"}, status=503)
        return web.json_response({"status": "ok", **state.get("info", {})})

    app.router.add_get("/health", health)


async def start(
    config: Config,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    mode: Mode | None = None,
    role: Role = "all",
    socket_mode: bool = False,
) -> Running:
    """Start the service, the Slack front and the HTTP server; returns once ``/health`` says ok.

    ``role``: ``all`` (one process does everything), ``front`` (Slack and REST requests: asks are recorded, no
    worker runs) or ``worker`` (asks, runs, approval expiries and outbox deliveries; the HTTP server only answers
    ``/health``, ``/ready`` and ``/metrics``).

    ``socket_mode``: in the playground, the emulator delivers over Socket Mode instead of signed HTTP requests."""
    mode = mode or choose_mode(config)
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if mode == "playground" and role != "all":
        raise ConfigError(
            "the playground runs in one process: use --role all (fronts and workers are for real Slack, or SLACK_API_URL)"
        )
    if socket_mode and mode == "http":
        raise ConfigError("--socket-mode needs SLACK_APP_TOKEN (xapp-...) with real Slack, or the playground")
    emulator = None
    playground_app_token: str | None = None
    if mode == "playground":
        from bot.playground.emulator import APPROVER_1, APPROVER_2, SlackEmulator

        port = free_port(host, port) if port else 0
        signing_secret = secrets.token_hex(16)
        playground_token = "xoxb-playground-" + secrets.token_hex(8)
        bot_token: str | None = playground_token
        if not config.approvers:
            config.approvers = [APPROVER_1, APPROVER_2]
        if config.source is None:
            config.executor.wait_scale = PLAYGROUND_WAIT_SCALE
        if socket_mode:
            playground_app_token = "xapp-playground-" + secrets.token_hex(8)
        emulator = SlackEmulator(signing_secret=signing_secret, bot_token=playground_token, app_token=playground_app_token)
    else:
        if config.slack.bot_token is None and not config.slack.oauth:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: real Slack needs the bot token, or OAuth mode's SLACK_CLIENT_ID, "
                "SLACK_CLIENT_SECRET, SLACK_STATE_SECRET and OPSPILOT_TOKEN_KEY (or unset all Slack variables for the "
                "playground)"
            )
        if mode == "http" and role != "worker" and config.slack.signing_secret is None:
            raise ConfigError("SLACK_SIGNING_SECRET is not set: OpsPilot refuses unsigned requests")
        signing_secret = config.slack.signing_secret.get_secret_value() if config.slack.signing_secret else secrets.token_hex(16)
        bot_token = config.slack.bot_token.get_secret_value() if config.slack.bot_token else None

    service = await OpsPilot.create(config)
    try:
        state: dict = {"ready": False, "draining": False}
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[draining_guard(state)])
        if emulator is not None:
            emulator.register(app)
        # One replica's 429 holds every replica's calls of that method to that channel (slack_rate_limits).
        limits = SharedRateLimits(service.queries, service.clock)
        client = request_client(bot_token, config.slack.api_url, limits)
        oauth = oauth_mode(config, service, limits) if emulator is None and config.slack.oauth else None
        bolt = build_app(service, client, signing_secret, oauth_settings=oauth.settings if oauth else None)
        use_shared_limits(bolt, client)
        service.use_groups(SlackGroupDirectory(client, client_for=oauth.teams.client if oauth else None))
        slack = SlackSubscriber(
            service, delivery_client(bot_token, config.slack.api_url, limits), teams=oauth.teams if oauth else None
        )
        service.outbox.register(slack)
        health_routes(app, state)
        if role != "worker":
            slack_routes(app, bolt, state, signing_secret, service.asks.pressure)
            if bolt.oauth_flow is not None:
                oauth_routes(app, bolt.oauth_flow)
            rest_routes(app, service, config)
            state["routes"] = True
        state["role"] = role
        metrics = Metrics()
        metrics.attach(service)
        monitoring_routes(app, service, metrics, state)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=config.shutdown_grace)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        url = f"http://{host}:{runner.addresses[0][1]}"
        if emulator is not None:
            # The emulator shares this server: the bot talks to it over loopback like it would to Slack.
            emulator.base_url = url
            emulator.bot_url = f"{url}/slack/events"
            client.base_url = slack.client.base_url = emulator.api_url

        socket_handler = None
        if (mode == "socket" and role != "worker") or playground_app_token is not None:
            from bot.socket_mode import SocketModeHandler

            app_token = playground_app_token or (config.slack.app_token.get_secret_value() if config.slack.app_token else None)
            if app_token is None:
                raise ConfigError("SLACK_APP_TOKEN is not set: socket mode needs the app-level token (xapp-...)")
            socket_handler = SocketModeHandler(bolt, app_token)
            await socket_handler.connect_async()

        await service.start(role)
        state["info"] = {
            "mode": mode,
            "role": role,
            "planner": service.engine.provider,
            "database": service.queries.database_kind(),
            "approvers": len(config.approvers),
        }
        # What startup built (policies, schemas, the intent model: ~250k objects) lives as long as the process: moved
        # out of the collector's reach, a full collection takes microseconds instead of ~120 ms, which would
        # otherwise stall every ack in flight each time planning's garbage triggers one.
        gc.collect()
        gc.freeze()
        state["ready"] = True
        logger.info("OpsPilot ready in %s mode on %s (role %s)", mode, url, role)
        return Running(mode, service, url, runner, bolt, emulator, socket_handler, slack, state)
    except BaseException:
        await service.close()
        raise
