"""The Slack Web API subset the bot uses, served at `POST|GET /api/<method>`."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.playground.blocks import block_errors, view_errors, with_generated_ids
from bot.playground.files import FileError, FileStore
from bot.playground.interactions import InteractionError, TriggerRegistry
from bot.playground.rate_limit import ChannelRateLimiter
from bot.playground.seeds import BOT_ID, BOT_USER, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, TEAM_NAME, TEAMS, dm_channel_id
from bot.playground.workspace import Workspace, bot_extra

logger = logging.getLogger(__name__)

JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
MAX_STACKED_MODALS = 3


class ApiError(Exception):
    def __init__(
        self,
        error: str,
        messages: list[str] | None = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.status = status
        self.headers = headers or {}


Params = dict[str, Any]
Handler = Callable[[Params], Params]


async def read_params(request: web.Request) -> Params:
    """Query string, form or JSON body merged, with JSON-encoded fields decoded (as Slack accepts all)."""
    params: Params = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    for key in JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = _Unparseable(value)
    return params


class _Unparseable(str):
    """A JSON field that did not parse; validation reports it."""


def flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


class WebApi:
    def __init__(
        self,
        workspace: Workspace,
        bot_token: str,
        triggers: TriggerRegistry,
        rate_limiter: ChannelRateLimiter | None,
        files: FileStore | None = None,
    ) -> None:
        self.workspace = workspace
        self.files = files
        self._bot_token = bot_token
        # token → the workspace it belongs to: the seeded bot token, and each token oauth.v2.access issued.
        self._team_of_token: dict[str, str] = {bot_token: TEAM_ID}
        self._team = TEAM_ID  # the calling token's workspace, for the method running now
        self._client_methods: dict[str, Handler] = {}  # methods that take the app's client id and secret instead
        self.triggers = triggers
        self.rate_limiter = rate_limiter
        self._injected: list[Injection] = []
        self._app_methods: dict[str, tuple[str, Handler]] = {}  # methods that take the app-level token instead
        self._methods: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.delete": self.chat_delete,
            "views.open": self.views_open,
            "views.push": self.views_push,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "users.info": self.users_info,
            "conversations.info": self.conversations_info,
            "conversations.open": self.conversations_open,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "usergroups.users.list": self.usergroups_users_list,
            "reactions.add": self.reactions_add,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
        }

    def register(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self.handle)

    def add_team_token(self, token: str, team_id: str) -> None:
        """A bot token of ``team_id`` (issued by an OAuth install): every method accepts it, for that workspace."""
        self._team_of_token[token] = team_id

    def add_client_method(self, method: str, handler: Handler) -> None:
        """A method authenticated with the app's client id and secret (HTTP Basic or form fields), as
        ``oauth.v2.access`` is; ``handler`` gets them as ``client_id`` / ``client_secret`` params and checks them."""
        self._client_methods[method] = handler

    def add_app_method(self, method: str, app_token: str, handler: Handler) -> None:
        """A method authenticated with the app-level token (``xapp-…``), as ``apps.connections.open`` is."""
        self._app_methods[method] = (app_token, handler)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await read_params(request)
        except ValueError:
            return self._failure(method, {}, ApiError("invalid_json"))
        if method in self._client_methods:
            return self._client_call(method, request, params)
        token = _bearer_token(request) or params.pop("token", None)
        params.pop("token", None)
        try:
            if method in self._app_methods:
                app_token, app_handler = self._app_methods[method]
                if not token:
                    raise ApiError("not_authed")
                if token != app_token:
                    raise ApiError("not_allowed_token_type" if token == self._bot_token else "invalid_auth")
                self._raise_injected(method, params)
                result = app_handler(params)
                self.workspace.record_call(method, params, None)
                return web.json_response({"ok": True, **result})
            self._team = self._authenticate(token)
            handler = self._methods.get(method)
            if handler is None:
                self.workspace.warn(f"bot called {method}, which the playground does not implement")
                raise ApiError("unknown_method")
            self._raise_injected(method, params)
            result = handler(params)
        except ApiError as exc:
            return self._failure(method, params, exc)
        self.workspace.record_call(method, params, None, self._team)
        return web.json_response({"ok": True, **result})

    def _client_call(self, method: str, request: web.Request, params: Params) -> web.Response:
        basic = _basic_auth(request)
        if basic is not None:
            params["client_id"], params["client_secret"] = basic
        try:
            result = self._client_methods[method](params)
        except ApiError as exc:
            params.pop("client_secret", None)
            return self._failure(method, params, exc)
        params.pop("client_secret", None)
        self.workspace.record_call(method, params, None)
        return web.json_response({"ok": True, **result})

    def _failure(self, method: str, params: Params, exc: ApiError) -> web.Response:
        self.workspace.record_call(method, params, exc.error, self._team)
        body: Params = {"ok": False, "error": exc.error}
        if exc.messages:
            body["response_metadata"] = {"messages": exc.messages}
        return web.json_response(body, status=exc.status, headers=exc.headers)

    def _authenticate(self, token: str | None) -> str:
        """The token's workspace."""
        self._team = TEAM_ID
        if not token:
            raise ApiError("not_authed")
        team = self._team_of_token.get(token)
        if team is None:
            raise ApiError("invalid_auth")
        return team

    # -- failures on demand (tests) ------------------------------------------

    def inject(self, injection: Injection) -> None:
        """Answer the next ``injection.times`` calls of its method (to its channel, if it names one) with its error."""
        self._injected.append(injection)

    def _raise_injected(self, method: str, params: Params) -> None:
        for injection in self._injected:
            if injection.method != method or injection.times <= 0:
                continue
            if injection.channel is not None and self.workspace.resolve_channel(str(params.get("channel") or "")) != (
                self.workspace.resolve_channel(injection.channel) or injection.channel
            ):
                continue
            injection.times -= 1
            if injection.times <= 0:
                self._injected.remove(injection)
            headers = {"Retry-After": str(injection.retry_after)} if injection.retry_after is not None else {}
            raise ApiError(injection.error, status=injection.status, headers=headers)

    # -- helpers -------------------------------------------------------------

    def _channel(self, params: Params, key: str = "channel") -> str:
        ref = params.get(key)
        if not ref:
            raise ApiError("channel_not_found")
        channel = self.workspace.resolve_channel(str(ref))
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    def _blocks(self, params: Params, *, required: bool = False) -> list[dict[str, Any]] | None:
        blocks = params.get("blocks")
        if blocks is None or blocks == "":
            if required:
                raise ApiError("invalid_blocks", ["[ERROR] missing required field: blocks"])
            return None
        if isinstance(blocks, _Unparseable):
            raise ApiError("invalid_blocks_format", ["[ERROR] blocks must be a JSON array"])
        errors = block_errors(blocks)
        if errors:
            raise ApiError("invalid_blocks", errors)
        return with_generated_ids(blocks)

    def _thread(self, channel: str, params: Params) -> str | None:
        thread_ts = params.get("thread_ts")
        if not thread_ts:
            return None
        parent = self.workspace.find(channel, str(thread_ts))
        if parent is None or parent.thread_ts is not None:
            raise ApiError("thread_not_found")
        return str(thread_ts)

    def _text(self, method: str, params: Params, blocks: list[dict[str, Any]] | None) -> tuple[str, Params]:
        text = params.get("text")
        if text:
            return str(text), {}
        if blocks or params.get("attachments"):
            self.workspace.warn(f"{method} sent blocks without top-level text; notifications and screen readers get nothing")
            return "", {"warning": "missing_text_in_blocks", "response_metadata": {"warnings": ["missing_text_in_blocks"]}}
        raise ApiError("no_text")

    def _view(self, params: Params, expected_type: str) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, _Unparseable) or not isinstance(view, dict):
            raise ApiError("invalid_arguments", ["[ERROR] view must be a JSON object [json-pointer:/view]"])
        errors = view_errors(view, expected_type=expected_type)
        if errors:
            raise ApiError("invalid_arguments", errors)
        return {**view, "blocks": with_generated_ids(view.get("blocks", []))}

    def _user(self, params: Params, key: str = "user") -> str:
        user = params.get(key)
        if not user or user not in self.workspace.users:
            raise ApiError("user_not_found")
        return str(user)

    # -- methods -------------------------------------------------------------

    def auth_test(self, params: Params) -> Params:
        name, domain = TEAMS.get(self._team, (TEAM_NAME, TEAM_DOMAIN))
        return {
            "url": f"https://{domain}.slack.com/",
            "team": name,
            "user": BOT_USER.name,
            "team_id": self._team,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def chat_post_message(self, params: Params) -> Params:
        channel = self._channel(params)
        blocks = self._blocks(params)
        thread_ts = self._thread(channel, params)
        text, extra = self._text("chat.postMessage", params, blocks)
        if self.rate_limiter is not None and not self.rate_limiter.allow(channel):
            raise ApiError("ratelimited", status=429, headers={"Retry-After": "1"})
        message_extra = bot_extra()
        metadata = params.get("metadata")
        if metadata is not None and metadata != "":
            if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
                raise ApiError("invalid_metadata_format", ["[ERROR] metadata needs an event_type and an event_payload"])
            if not isinstance(metadata.get("event_payload"), dict):
                raise ApiError("invalid_metadata_schema", ["[ERROR] metadata.event_payload must be an object"])
            message_extra["metadata"] = metadata
        broadcast = flag(params.get("reply_broadcast")) and thread_ts is not None
        message = self.workspace.post(channel, BOT_USER_ID, text, blocks, thread_ts, message_extra, broadcast=broadcast)
        return {"channel": channel, "ts": message.ts, "message": message.raw, **extra}

    def _own_message(self, params: Params, refusal: str) -> tuple[str, str]:
        """(channel, ts) of a message the bot itself posted, or Slack's error."""
        channel = self._channel(params)
        ts = str(params.get("ts") or "")
        current = self.workspace.find(channel, ts)
        if current is None:
            raise ApiError("message_not_found")
        if current.user != BOT_USER_ID:
            raise ApiError(refusal)
        return channel, ts

    def chat_update(self, params: Params) -> Params:
        channel, ts = self._own_message(params, "cant_update_message")
        blocks = self._blocks(params)
        text = params.get("text")
        if not text and blocks:
            self.workspace.warn("chat.update sent blocks without top-level text")
        updated = self.workspace.update(channel, ts, text=None if text is None else str(text), blocks=blocks)
        return {"channel": channel, "ts": ts, "text": updated.text, "message": updated.raw}

    def chat_post_ephemeral(self, params: Params) -> Params:
        channel = self._channel(params)
        user = self._user(params)
        blocks = self._blocks(params)
        thread_ts = self._thread(channel, params)
        text, _ = self._text("chat.postEphemeral", params, blocks)
        message = self.workspace.post_ephemeral(channel, user, BOT_USER_ID, text, blocks, thread_ts)
        return {"message_ts": message.ts}

    def chat_delete(self, params: Params) -> Params:
        channel, ts = self._own_message(params, "cant_delete_message")
        self.workspace.delete(channel, ts)
        return {"channel": channel, "ts": ts}

    def views_open(self, params: Params) -> Params:
        view = self._view(params, "modal")
        user = self._redeem(params)
        if self.workspace.open_modal_of(user) is not None:
            self.workspace.close_modal(user, "", everything=True)
        return {"view": self.workspace.push_modal(user, view)}

    def views_push(self, params: Params) -> Params:
        view = self._view(params, "modal")
        user = self._redeem(params)
        if self.workspace.open_modal_of(user) is None:
            raise ApiError("invalid_arguments", ["[ERROR] no modal is open to push onto"])
        if len(self.workspace.modal_stacks.get(user, [])) >= MAX_STACKED_MODALS:
            raise ApiError("push_limit_reached")
        return {"view": self.workspace.push_modal(user, view)}

    def views_update(self, params: Params) -> Params:
        existing = self.workspace.find_view(params.get("view_id"), params.get("external_id"))
        if existing is None:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != existing["hash"]:
            raise ApiError("hash_conflict")
        view = self._view(params, existing["type"])
        owner = self.workspace.view_owner[existing["id"]]
        return {"view": self.workspace.store_view(owner, view, view_id=existing["id"])}

    def views_publish(self, params: Params) -> Params:
        user = self._user(params, "user_id")
        view = self._view(params, "home")
        current = self.workspace.home_of(user)
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        return {"view": self.workspace.publish_home(user, view)}

    def _redeem(self, params: Params) -> str:
        try:
            return self.triggers.redeem(str(params.get("trigger_id") or ""))
        except InteractionError as exc:
            raise ApiError(exc.error) from exc

    def users_info(self, params: Params) -> Params:
        user = self.workspace.users[self._user(params)]
        return {
            "user": {
                "id": user.id,
                "team_id": TEAM_ID,
                "name": user.name,
                "deleted": False,
                "real_name": user.real_name,
                "tz": "Europe/Berlin",
                "tz_offset": 3600,
                "is_admin": False,
                "is_owner": False,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "profile": {
                    "real_name": user.real_name,
                    "display_name": user.name,
                    "email": user.email,
                    "team": TEAM_ID,
                },
            }
        }

    def conversations_info(self, params: Params) -> Params:
        channel = self.workspace.channels[self._channel(params)]
        info: Params = {
            "id": channel.id,
            "created": 1700000000,
            "is_archived": False,
            "is_im": channel.is_im,
            "is_member": True,
        }
        if channel.is_im:
            info["user"] = channel.im_user
        else:
            info.update(
                name=channel.name,
                is_channel=not channel.is_private,
                is_group=channel.is_private,
                is_private=channel.is_private,
                is_general=False,
            )
        return {"channel": info}

    def conversations_history(self, params: Params) -> Params:
        """Newest first, top-level messages and broadcast replies; ``oldest``/``latest`` bound ts (exclusive),
        ``cursor`` is an offset. Message metadata only with ``include_all_metadata``."""
        channel = self._channel(params)
        messages = [m for m in reversed(self.workspace.history(channel)) if _within(m.ts, params)]
        return self._page(messages, params)

    def conversations_replies(self, params: Params) -> Params:
        """The thread of ``ts``: its parent first, then the replies, oldest first."""
        channel = self._channel(params)
        ts = str(params.get("ts") or "")
        parent = self.workspace.find(channel, ts)
        if parent is None:
            raise ApiError("thread_not_found")
        if parent.thread_ts is not None:  # asked with a reply's ts: Slack answers with the whole thread
            parent = self.workspace.find(channel, parent.thread_ts) or parent
        messages = [parent, *(m for m in self.workspace.replies(channel, parent.ts) if _within(m.ts, params))]
        return self._page(messages, params)

    def _page(self, messages: list[Any], params: Params) -> Params:
        try:
            limit = max(1, min(int(params.get("limit") or 100), 1000))
            start = int(params.get("cursor") or 0)
        except ValueError as exc:
            raise ApiError("invalid_cursor") from exc
        page = messages[start : start + limit]
        with_metadata = flag(params.get("include_all_metadata"))
        shown = [m.raw if with_metadata else {k: v for k, v in m.raw.items() if k != "metadata"} for m in page]
        more = start + limit < len(messages)
        return {
            "messages": shown,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def conversations_open(self, params: Params) -> Params:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise ApiError("not_implemented", ["[ERROR] the playground opens DMs with one user only"])
        user = self._user({"user": users[0]})
        return {"channel": {"id": dm_channel_id(user)}}

    def usergroups_users_list(self, params: Params) -> Params:
        members = self.workspace.usergroups.get(str(params.get("usergroup") or ""))
        if members is None:
            raise ApiError("no_such_subteam")
        return {"users": list(members)}

    def reactions_add(self, params: Params) -> Params:
        channel = self._channel(params)
        ts = str(params.get("timestamp") or "")
        name = str(params.get("name") or "").strip(":")
        if self.workspace.find(channel, ts) is None:
            raise ApiError("message_not_found")
        if not name:
            raise ApiError("invalid_name")
        if not self.workspace.add_reaction(channel, ts, name, BOT_USER_ID):
            raise ApiError("already_reacted")
        return {}

    # -- files (files_upload_v2: reserve, POST the bytes, complete; bot/playground/files.py) ----

    def _file_store(self) -> FileStore:
        if self.files is None:
            raise ApiError("unknown_method")
        return self.files

    def files_get_upload_url_external(self, params: Params) -> Params:
        try:
            return self._file_store().reserve(params)
        except FileError as exc:
            raise ApiError(exc.error, exc.messages) from exc

    def files_complete_upload_external(self, params: Params) -> Params:
        """Shares the uploaded files: a message with them in ``channel_id`` (in ``thread_ts``'s thread), with
        ``initial_comment`` as its text; without a channel they stay private."""
        store = self._file_store()
        files = params.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError as exc:
                raise ApiError("invalid_arguments", ["[ERROR] files must be a JSON array"]) from exc
        target = params.get("channel_id") or str(params.get("channels") or "").split(",")[0]
        channel = self._channel({"channel": target}) if target else None
        thread_ts = self._thread(channel, params) if channel else None
        try:
            completed = store.complete(files)
        except FileError as exc:
            raise ApiError(exc.error, exc.messages) from exc
        if channel is not None:
            extra = {**bot_extra(), "upload": True, "files": [store.describe(f, BOT_USER_ID) for f in completed]}
            self.workspace.post(channel, BOT_USER_ID, str(params.get("initial_comment") or ""), None, thread_ts, extra)
        return {"files": [{"id": f.id, "title": f.title} for f in completed]}


@dataclass
class Injection:
    """A failure the emulator answers instead of running ``method`` (default: a 429 with Retry-After)."""

    method: str
    error: str = "ratelimited"
    status: int = 429
    retry_after: int | None = 30
    channel: str | None = None
    times: int = 1


def _within(ts: str, params: Params) -> bool:
    try:
        moment = float(ts)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 0)
    except ValueError:
        return True
    return moment > oldest and (not latest or moment < latest)


def _basic_auth(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
