"""A local Slack workspace emulator: plays Slack for OpsPilot in the playground and in end-to-end tests.

It serves the Web API methods the bot calls (`GET|POST /api/<method>`, JSON, form or
query encoded, bearer token checked), delivers slash commands, events and
interactivity payloads to `bot_url` signed like Slack (v0 HMAC-SHA256), serves
response URLs (`POST /response/<id>`), and serves a Slack-like page at `/` that
updates live over server-sent events (`GET /events/stream`).

    emu = SlackEmulator(signing_secret="s3cret", bot_token="xoxb-playground", rate_limit=None)
    await emu.start()                       # own server; or emu.register(app) + emu.base_url = ...
    emu.bot_url = "http://127.0.0.1:3000/slack/events"
    client = AsyncWebClient(token="xoxb-playground", base_url=emu.api_url)

User actions return the bot's HTTP answer as a Delivery(status, body, headers):
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift")
    await emu.send_message(user, channel, text, thread_ts=None)   # None unless something was delivered
    await emu.click_button(user, channel, message_ts, action_id, block_id=None)
    await emu.click_view_button(user, view_id, action_id)         # buttons in modals / App Home
    await emu.submit_view(user, view_id, values) / await emu.close_view(user, view_id)
    await emu.open_home(user)
They raise DeliveryError when the bot cannot be reached, LookupError for unknown ids.

Observation:
    emu.calls, emu.calls_to("chat.update"), emu.deliveries, emu.warnings
    emu.messages(channel), emu.thread(channel, ts), emu.ephemerals(user), emu.find_message(channel, ts)
    emu.channel_history(channel)            # top-level messages and replies broadcast to the channel
    emu.file(file_id)                       # an uploaded file (name, title, alt_txt, data); messages carry `files`
    emu.open_modal(user), emu.home_view(user), emu.views
    await emu.wait_for(lambda: ..., timeout=10.0)

Failures on demand: emu.fail_next("chat.postMessage", retry_after=30, channel=None, times=1) answers 429 (or
`error=..., status=...`) instead of running the method.

OAuth installs: with ``client_id=…, client_secret=…`` the emulator serves Slack's authorize page
(``emu.authorize_url``) and ``oauth.v2.access`` (``emu.oauth``: mint_code, issued; see ``bot.playground.oauth``);
``send_slash_command(..., team=SECOND_TEAM_ID)`` comes from the second workspace, and every call records the
workspace of the token that made it (``ApiCall.team``).

Socket Mode: with ``app_token="xapp-…"`` the emulator answers ``apps.connections.open`` and delivers everything
as envelopes over the WebSocket instead of HTTP (``emu.socket_mode``: disconnect, send_raw, acks, opened; see
``bot.playground.socket_mode``).

Channels may be given as ids or "#names". `message_events=True` also delivers plain
`message` events; `trigger_ttl` is how long trigger ids stay valid (Slack: 3 s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiohttp import web

from bot.playground.blocks import block_errors, view_errors, with_generated_ids
from bot.playground.delivery import ACK_DEADLINE_SECONDS, BotDeliverer, DeliveryError
from bot.playground.files import FileStore, StoredFile
from bot.playground.interactions import ResponseTarget, ResponseUrlRegistry, TriggerRegistry
from bot.playground.live import LiveStream
from bot.playground.oauth import AUTHORIZE_PATH, OAuthServer
from bot.playground.payloads import PayloadFactory, button_action
from bot.playground.rate_limit import ChannelRateLimiter
from bot.playground.records import ApiCall, Delivery, Message, RateLimit, SeedChannel, SeedUser
from bot.playground.response_urls import ResponseUrls
from bot.playground.seeds import (
    APP_ID,
    APPROVER_1,
    APPROVER_2,
    APPROVERS_GROUP,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    DEFAULT_CHANNELS,
    DEFAULT_USERGROUPS,
    DEFAULT_USERS,
    OPS_CHANNEL,
    OUTSIDER,
    PROD_CHANGES_CHANNEL,
    REQUESTER,
    SANDBOX_CHANNEL,
    SLACKBOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAMS,
    dm_channel_id,
)
from bot.playground.socket_mode import SocketDeliverer, SocketModeServer
from bot.playground.ui import PlaygroundUi
from bot.playground.view_state import state_values
from bot.playground.web_api import Injection, WebApi
from bot.playground.workspace import Workspace, bot_extra

__all__ = [
    "APPROVERS_GROUP",
    "APPROVER_1",
    "APPROVER_2",
    "OPS_CHANNEL",
    "OUTSIDER",
    "PROD_CHANGES_CHANNEL",
    "REQUESTER",
    "SANDBOX_CHANNEL",
    "ApiCall",
    "Delivery",
    "DeliveryError",
    "Message",
    "RateLimit",
    "SeedChannel",
    "SeedUser",
    "SlackEmulator",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SlackEmulator:
    team_id = TEAM_ID
    team_domain = TEAM_DOMAIN
    app_id = APP_ID
    bot_id = BOT_ID
    bot_user_id = BOT_USER_ID
    bot_name = BOT_NAME

    def __init__(
        self,
        signing_secret: str,
        bot_token: str,
        rate_limit: RateLimit | None = None,
        *,
        bot_url: str | None = None,
        users: Sequence[SeedUser] = DEFAULT_USERS,
        channels: Sequence[SeedChannel] = DEFAULT_CHANNELS,
        usergroups: Mapping[str, Sequence[str]] = DEFAULT_USERGROUPS,
        message_events: bool = False,
        trigger_ttl: float = 3.0,
        app_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self.bot_url = bot_url
        self.message_events = message_events
        self.deliveries: list[Delivery] = []
        self._workspace = Workspace(users, channels, usergroups)
        self._triggers = TriggerRegistry(ttl=trigger_ttl)
        self._response_urls = ResponseUrlRegistry()
        self._payloads = PayloadFactory(self._workspace)
        limiter = ChannelRateLimiter(rate_limit) if rate_limit is not None else None
        self._files = FileStore(self._workspace.ids, lambda: self.base_url)
        self._web_api = WebApi(self._workspace, bot_token, self._triggers, limiter, self._files)
        # With an app-level token the bot connects over Socket Mode and everything is delivered as envelopes.
        self.socket_mode = SocketModeServer(app_token) if app_token is not None else None
        self._deliverer: BotDeliverer | SocketDeliverer
        if self.socket_mode is not None:
            self._deliverer = SocketDeliverer(self.socket_mode)
            server = self.socket_mode
            self._web_api.add_app_method("apps.connections.open", server.app_token, lambda _: server.open_connection())
        else:
            self._deliverer = BotDeliverer(signing_secret)
        # With a client id and secret the emulator also plays Slack's OAuth install (bot/playground/oauth.py).
        self.oauth = OAuthServer(self._web_api, client_id, client_secret or "") if client_id is not None else None
        self._response_endpoint = ResponseUrls(self._workspace, self._response_urls)
        self._live = LiveStream()
        self._workspace.subscribe(lambda kind: self._live.publish(kind, self._workspace.version))
        self._ui = PlaygroundUi(self, self._workspace, self._live)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # -- serving -------------------------------------------------------------

    def register(self, app: web.Application) -> None:
        """Adds the Web API, response URL, playground page and live stream routes to `app`."""
        self._web_api.register(app)
        self._files.register(app)
        if self.socket_mode is not None:
            self.socket_mode.register(app)
        if self.oauth is not None:
            self.oauth.register(app)
        self._response_endpoint.register(app)
        self._ui.register(app)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        self.register(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        logger.info("Slack emulator listening on %s", self._base_url)

    async def stop(self) -> None:
        self._live.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._deliverer.close()

    async def _on_shutdown(self, app: web.Application) -> None:
        self._live.close_all()

    async def _on_cleanup(self, app: web.Application) -> None:
        await self._deliverer.close()

    @property
    def base_url(self) -> str:
        """Where the emulator is reachable; set it yourself when using `register` on a shared app."""
        if self._base_url is None:
            raise RuntimeError("SlackEmulator.base_url is unknown: call start() or assign base_url after register()")
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")
        if self.socket_mode is not None:
            self.socket_mode.base_url = self._base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def authorize_url(self) -> str:
        """Slack's authorize page (OAuth installs; SLACK_AUTHORIZE_URL)."""
        return f"{self.base_url}{AUTHORIZE_PATH}"

    # -- user actions --------------------------------------------------------

    async def send_slash_command(
        self, user: str, channel: str, command: str = "/ops", text: str = "", *, team: str | None = None
    ) -> Delivery:
        """``team``: the workspace it comes from (OAuth mode: one of ``TEAMS``); the playground's by default."""
        channel_id = self._channel(channel)
        self._require_user(user)
        response_url = self._issue_response_url(ResponseTarget(user=user, channel=channel_id))
        fields = self._payloads.slash_command(user, channel_id, command, text, response_url, self._triggers.issue(user))
        if team is not None:
            if team not in TEAMS:
                raise LookupError(f"unknown team {team!r}; known: {sorted(TEAMS)}")
            fields["team_id"], fields["team_domain"] = team, TEAMS[team][1]
        try:
            delivery = await self._deliver("slash_command", self._deliverer.send_form(self.bot_url, fields, "slash_command"))
        except DeliveryError:
            self._slackbot_says(user, channel_id, f'{command} failed with the error "dispatch_failed"')
            raise
        if not delivery.ok:
            self._slackbot_says(user, channel_id, f'{command} failed with the error "dispatch_failed"')
        else:
            self._show_command_ack(user, channel_id, delivery.body)
        return delivery

    async def send_message(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> Delivery | None:
        """Posts as `user`; delivers app_mention when the bot is mentioned (and `message`
        events when `message_events` is on). Returns the last delivery, None if none was due."""
        channel_id = self._channel(channel)
        self._require_user(user)
        if thread_ts is not None:
            parent = self._workspace.find(channel_id, thread_ts)
            if parent is None or parent.thread_ts is not None:
                raise LookupError(f"no top-level message {thread_ts} in {channel_id} to reply to")
        message = self._workspace.post(channel_id, user, text, thread_ts=thread_ts)
        delivery: Delivery | None = None
        if self.message_events:
            event = self._payloads.message_event(message)
            delivery = await self._deliver_event("message", event)
        mentioned = f"<@{BOT_USER_ID}>" in message.text or f"<@{BOT_USER_ID}|" in message.text
        is_dm = self._workspace.channels[channel_id].is_im
        if mentioned and not is_dm:
            event = self._payloads.message_event(message, event_type="app_mention")
            delivery = await self._deliver_event("app_mention", event)
        return delivery

    async def click_button(
        self,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        *,
        block_id: str | None = None,
        team: str | None = None,
    ) -> Delivery:
        """``team``: the workspace the click comes from (OAuth mode: one of ``TEAMS``); the playground's by default.
        The channel's messages are shared, so a click from another workspace plays a button replayed there."""
        self._require_user(user)
        if team is not None and team not in TEAMS:
            raise LookupError(f"unknown team {team!r}; known: {sorted(TEAMS)}")
        channel_id = self._channel(channel)
        message = self._workspace.find(channel_id, message_ts) or self._workspace.find_ephemeral(message_ts)
        if message is None or message.channel != channel_id:
            raise LookupError(f"no message {message_ts} in {channel_id}")
        if message.ephemeral_for is not None and message.ephemeral_for != user:
            raise LookupError(f"ephemeral {message_ts} is only visible to {message.ephemeral_for}, not {user}")
        element, found_block_id = _find_button(message.blocks, action_id, block_id, where=f"message {message_ts}")
        response_url = self._issue_response_url(
            ResponseTarget(
                user=user,
                channel=channel_id,
                message_ts=message.ts,
                is_ephemeral=message.ephemeral_for is not None,
                thread_ts=message.thread_ts,
            )
        )
        payload = self._payloads.message_block_actions(
            user, message, button_action(element, found_block_id), response_url, self._triggers.issue(user)
        )
        if team is not None:
            payload["team"] = {"id": team, "domain": TEAMS[team][1]}
            payload["user"] = {**payload["user"], "team_id": team}
        return await self._deliver("block_actions", self._deliverer.send_interactive(self.bot_url, payload, "block_actions"))

    async def click_view_button(self, user: str, view_id: str, action_id: str, *, block_id: str | None = None) -> Delivery:
        """Clicks a button in a modal or in the App Home tab."""
        view = self._view_of(user, view_id)
        element, found_block_id = _find_button(view.get("blocks", []), action_id, block_id, where=f"view {view_id}")
        payload = self._payloads.view_block_actions(
            user, view, button_action(element, found_block_id), self._triggers.issue(user)
        )
        return await self._deliver("block_actions", self._deliverer.send_interactive(self.bot_url, payload, "block_actions"))

    async def submit_view(self, user: str, view_id: str, values: Mapping[str, Any] | None = None) -> Delivery:
        """Submits an open modal. `values`: see `bot.playground.view_state.state_values`."""
        view = self._view_of(user, view_id)
        submitted = {**view, "state": {"values": state_values(view, values or {})}}
        self._workspace.views[view_id] = submitted
        payload = self._payloads.view_submission(user, submitted, self._triggers.issue(user))
        delivery = await self._deliver(
            "view_submission", self._deliverer.send_interactive(self.bot_url, payload, "view_submission")
        )
        if delivery.ok:
            self._apply_submission_answer(user, view_id, delivery.body)
        else:
            self._workspace.warn(f"view_submission of {view_id} got HTTP {delivery.status}; the modal stays open")
        return delivery

    async def close_view(self, user: str, view_id: str) -> Delivery | None:
        """Closes a modal as its X/Cancel button does; delivers view_closed if the view asked for it."""
        view = self._view_of(user, view_id)
        self._workspace.close_modal(user, view_id, everything=bool(view.get("clear_on_close")))
        if not view.get("notify_on_close"):
            return None
        payload = self._payloads.view_closed(user, view)
        return await self._deliver("view_closed", self._deliverer.send_interactive(self.bot_url, payload, "view_closed"))

    async def open_home(self, user: str) -> Delivery:
        self._require_user(user)
        event = self._payloads.app_home_opened(user, dm_channel_id(user), self._workspace.home_of(user))
        return await self._deliver_event("app_home_opened", event)

    def response_url(self, user: str, channel: str) -> str:
        """A response URL like the one a slash command from ``user`` in ``channel`` carries."""
        self._require_user(user)
        return self._issue_response_url(ResponseTarget(user=user, channel=self._channel(channel)))

    # -- failures on demand -------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 30,
        channel: str | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``channel``, if given) fail with ``error`` (default: a 429 with
        ``Retry-After``) instead of running."""
        self._web_api.inject(Injection(method, error, status, retry_after, channel, times))

    # -- observation ---------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        return self._workspace.calls

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self._workspace.calls if call.method == method]

    def messages(self, channel: str) -> list[Message]:
        return self._workspace.top_level(self._channel(channel))

    def channel_history(self, channel: str) -> list[Message]:
        """What the channel shows, oldest first: top-level messages and thread replies broadcast to it."""
        return self._workspace.history(self._channel(channel))

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self._workspace.replies(self._channel(channel), ts)

    def ephemerals(self, user: str | None = None) -> list[Message]:
        return self._workspace.ephemerals(user)

    def find_message(self, channel: str, ts: str) -> Message | None:
        channel_id = self._channel(channel)
        found = self._workspace.find(channel_id, ts) or self._workspace.find_ephemeral(ts)
        return found if found is not None and found.channel == channel_id else None

    def file(self, file_id: str) -> StoredFile | None:
        """A file the bot uploaded (``files_upload_v2``): its name, title, alt text and bytes."""
        return self._files.files.get(file_id)

    def home_view(self, user: str) -> dict[str, Any] | None:
        return self._workspace.home_of(user)

    def open_modal(self, user: str) -> dict[str, Any] | None:
        """The modal currently on top of `user`'s screen, if any."""
        return self._workspace.open_modal_of(user)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        return self._workspace.views

    @property
    def warnings(self) -> list[str]:
        return self._workspace.warnings

    @property
    def users(self) -> dict[str, SeedUser]:
        return self._workspace.users

    @property
    def channels(self) -> dict[str, SeedChannel]:
        return self._workspace.channels

    async def wait_for(self, predicate: Callable[[], T | bool | None], timeout: float = 10.0) -> T:
        """Polls `predicate` until it returns something truthy; LookupErrors count as "not yet"."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                result = predicate()
            except LookupError as exc:
                result, last = None, exc
            else:
                last = result
            if result:
                return result  # type: ignore[return-value]
            if time.monotonic() >= deadline:
                raise TimeoutError(self._describe_wait(predicate, timeout, last))
            await asyncio.sleep(0.02)

    def _describe_wait(self, predicate: Callable[..., object], timeout: float, last: object) -> str:
        name = getattr(predicate, "__qualname__", repr(predicate))
        code = getattr(predicate, "__code__", None)
        where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
        calls = ", ".join(f"{c.method}{'' if c.ok else ' -> ' + str(c.error)}" for c in self._workspace.calls[-8:]) or "none"
        deliveries = ", ".join(f"{d.kind} -> {d.status}" for d in self.deliveries[-5:]) or "none"
        warnings = "; ".join(self._workspace.warnings[-5:]) or "none"
        return (
            f"wait_for({name}{where}) still {last!r} after {timeout}s. "
            f"Last Web API calls: {calls}. Last deliveries: {deliveries}. Warnings: {warnings}"
        )

    # -- internals -----------------------------------------------------------

    def _channel(self, ref: str) -> str:
        channel = self._workspace.resolve_channel(ref)
        if channel is None:
            raise LookupError(f"unknown channel {ref!r}; known: {sorted(self._workspace.channels)}")
        return channel

    def _require_user(self, user: str) -> None:
        if user not in self._workspace.users:
            raise LookupError(f"unknown user {user!r}; known: {sorted(self._workspace.users)}")

    def _view_of(self, user: str, view_id: str) -> dict[str, Any]:
        self._require_user(user)
        view = self._workspace.views.get(view_id)
        if view is None:
            raise LookupError(f"no view {view_id}; known: {sorted(self._workspace.views)}")
        owner = self._workspace.view_owner.get(view_id)
        if owner != user:
            raise LookupError(f"view {view_id} belongs to {owner}, not {user}")
        return view

    def _issue_response_url(self, target: ResponseTarget) -> str:
        return f"{self.base_url}/response/{self._response_urls.issue(target)}"

    async def _deliver_event(self, kind: str, event: dict[str, Any]) -> Delivery:
        envelope = self._payloads.event_callback(event, self._workspace.ids.next("Ev0"))
        return await self._deliver(kind, self._deliverer.send_event(self.bot_url, envelope, kind))

    async def _deliver(self, kind: str, sending: Awaitable[Delivery]) -> Delivery:
        try:
            delivery = await sending
        except DeliveryError as exc:
            self._workspace.warn(str(exc))
            raise
        self.deliveries.append(delivery)
        if delivery.elapsed > ACK_DEADLINE_SECONDS:
            self._workspace.warn(
                f"bot took {delivery.elapsed:.1f}s to answer {kind}; Slack gives up after {ACK_DEADLINE_SECONDS:.0f}s"
            )
        if not delivery.ok:
            self._workspace.warn(f"bot answered {kind} with HTTP {delivery.status}")
        self._workspace.changed("delivery")
        return delivery

    def _slackbot_says(self, user: str, channel: str, text: str) -> None:
        self._workspace.post_ephemeral(channel, user, SLACKBOT_USER_ID, text)

    def _show_command_ack(self, user: str, channel: str, body: str | dict[str, Any]) -> None:
        if isinstance(body, str):
            if body.strip():
                self._workspace.post_ephemeral(channel, user, BOT_USER_ID, body)
            return
        text, blocks = str(body.get("text") or ""), body.get("blocks")
        if not text and not blocks:
            return
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                self._workspace.warn(f"slash command answer has invalid blocks: {errors}")
                self._slackbot_says(user, channel, 'The command answer failed with the error "invalid_blocks"')
                return
            blocks = with_generated_ids(blocks)
        if body.get("response_type") == "in_channel":
            self._workspace.post(channel, BOT_USER_ID, text, blocks, extra=bot_extra())
        else:
            self._workspace.post_ephemeral(channel, user, BOT_USER_ID, text, blocks)

    def _apply_submission_answer(self, user: str, view_id: str, body: str | dict[str, Any]) -> None:
        answer = body if isinstance(body, dict) else {}
        action = answer.get("response_action")
        if action is None:
            self._workspace.close_modal(user, view_id)
        elif action == "errors":
            self._workspace.view_errors[view_id] = dict(answer.get("errors") or {})
            self._workspace.changed("view")
        elif action in ("update", "push"):
            new_view: Any = answer.get("view")  # untrusted answer: view_errors rejects anything but an object
            errors = view_errors(new_view, expected_type="modal")
            if errors:
                self._workspace.warn(f"response_action {action} has an invalid view: {errors}")
            elif action == "update":
                self._workspace.store_view(
                    user, {**new_view, "blocks": with_generated_ids(new_view.get("blocks", []))}, view_id=view_id
                )
            else:
                self._workspace.push_modal(user, {**new_view, "blocks": with_generated_ids(new_view.get("blocks", []))})
        elif action == "clear":
            self._workspace.close_modal(user, view_id, everything=True)
        else:
            self._workspace.warn(f"unknown response_action {action!r} answering view_submission")


def _find_button(
    blocks: Sequence[Mapping[str, Any]], action_id: str, block_id: str | None, *, where: str
) -> tuple[dict[str, Any], str]:
    available: list[str] = []
    for block in blocks:
        candidates = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if not isinstance(element, dict) or element.get("type") != "button":
                continue
            available.append(f"{block.get('block_id')}/{element.get('action_id')}")
            if element.get("action_id") == action_id and (block_id is None or block.get("block_id") == block_id):
                return element, str(block.get("block_id"))
    raise LookupError(f"no button {action_id!r} in {where}; buttons there: {available or 'none'}")
