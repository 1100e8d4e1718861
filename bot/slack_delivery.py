"""The Slack front as an outbox subscriber (name ``slack``): cards, thread updates and answers to asks, delivered from
the outbox in event order per task, one delivery at a time, by whichever replica claims them.

- ``task.planned``: the plan's card is posted in the channel the ask came from (a task whose origin is Slack) and its
  place recorded (``message_ref``). ``ask.answered`` (invalid, failed, no change): the asker is answered (privately;
  "nothing to change" in the channel, as a card would be).
- Decisions, votes, supersessions, expiries and freezes rewrite the card from the current state; a rewrite that would
  show the same is skipped (the ref keeps the card's fingerprint).
- A run has one progress message in the card's thread, posted when it starts and edited at each phase end (phase x of
  y, assets done/total), and one reply per phase start and phase end; a failure or rollback is also broadcast to the
  channel. Per run that is at most 3 + 3 × phases Web API calls, whatever the number of assets, and 2 more for the
  phase timeline chart uploaded after the final message (``bot/slack_charts.py``; a report's card gets its chart too).
- Idempotent by event id: every message carries ``metadata`` naming the event (and which of its messages it is).
  When an earlier attempt may have posted already (``unfinished``, or a retry), the thread (or the channel) is read
  first and a message found there is not posted again. Edits are idempotent by nature.
- Slack errors: a 429 (or a shared window, ``bot/slack_limits.py``) is retried after Retry-After; a channel that is
  gone, a bot not in it, bad credentials or a message Slack refuses are dead-lettered at once; network errors and
  Slack's own failures are retried with backoff.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import messages
from bot.blocks import choices_card, text_card
from bot.cards import current_card, fingerprint
from bot.slack_charts import ChartPoster
from bot.slack_limits import retry_after_of
from core.approvals import SYSTEM_ACTOR
from core.errors import DeliveryFailed, DeliveryRejected, NotFound
from core.executor.plan_graph import execution_phases
from core.llm.offline import EXAMPLE_ASKS
from core.outbox.base import Delivery, Subscriber
from core.outbox.envelope import CloudEvent
from core.service import OpsPilot

if TYPE_CHECKING:
    from bot.oauth.team_clients import TeamClients

logger = logging.getLogger(__name__)

NAME = "slack"
METADATA_TYPE = "opspilot_event"
# Slack errors that no retry can fix: the channel is gone or closed to the bot, the credentials are bad, or Slack
# refuses the message itself.
REJECTED_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "user_not_in_channel",
        "user_not_found",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "invalid_arguments",
    }
)
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "thread_not_found"})  # someone deleted the card
BROADCAST_STATES = frozenset({"failed", "rolled_back"})
RUN_END_TYPES = frozenset({"task.completed", "task.failed", "run.rolled_back"})
CARD_TYPES = frozenset({"plan.decided", "plan.vote_recorded", "plan.superseded", "approval.expired"})
RUN_TYPES = frozenset({"task.started", "run.phase.started", "run.phase.completed", "run.paused", "run.resumed"})
ANSWERED_OUTCOMES = frozenset({"invalid", "failed", "no_change"})
LOOKUP_PAGES = 10  # pages of 200 messages read when looking for a message an earlier attempt may have posted
LOOKUP_MARGIN = timedelta(minutes=10)  # channel history searched from this long before the event
REMEMBERED = 2000  # (event id, part) → ts posted by this process, so a retry here needs no lookup


def progress_key(run_id: str) -> str:
    """The message ref's key for a run's progress message."""
    return f"progress:{run_id}"


class SlackSubscriber(Subscriber):
    name = NAME

    def __init__(
        self,
        service: OpsPilot,
        client: AsyncWebClient,
        *,
        response_timeout: float = 10.0,
        teams: TeamClients | None = None,
    ) -> None:
        """``teams``: OAuth mode, where each task's updates go out with its workspace's bot token (``client`` is
        then only the template for the per-workspace clients)."""
        self.service = service
        self.client = client
        self.response_timeout = response_timeout
        self.teams = teams
        self._team_of_plan: OrderedDict[str, str | None] = OrderedDict()
        self._posted: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.charts = ChartPoster(service)  # a report's chart after its card, a run's phase timeline after its end
        self._handlers: dict[str, Callable[[_Attempt], Awaitable[dict[str, Any] | None]]] = {
            "task.planned": self._on_planned,
            "ask.answered": self._on_answered,
            "environment.freeze": self._on_freeze,
            "task.started": self._on_run_started,
            "run.phase.started": self._on_phase_started,
            "run.phase.completed": self._on_phase_completed,
            "run.paused": self._on_paused,
            "run.resumed": self._on_resumed,
            **dict.fromkeys(CARD_TYPES, self._on_card_change),
            **dict.fromkeys(RUN_END_TYPES, self._on_run_finished),
        }

    # -- the port ------------------------------------------------------------------------------

    def wants(self, event: CloudEvent) -> bool:
        if event.type == "ask.answered":
            origin = event.data.get("origin") or {}
            return origin.get("front") == "slack" and event.data.get("outcome") in ANSWERED_OUTCOMES
        if event.type == "task.failed":
            return bool(event.data.get("run_id"))  # a run that failed; a planning failure is answered by ask.answered
        return event.type in self._handlers

    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        handler = self._handlers.get(delivery.event.type)
        if handler is None:
            return None
        attempt = _Attempt(self, delivery)
        try:
            result = await handler(attempt)
        except SlackApiError as exc:
            raise _translated(exc, delivery.event) from exc
        except (aiohttp.ClientError, SlackClientError, TimeoutError, OSError) as exc:
            raise DeliveryFailed(f"Slack unreachable: {type(exc).__name__}: {exc}"[:500]) from exc
        except (KeyError, TypeError, ValueError) as exc:  # an event whose data lacks what its type promises
            raise DeliveryRejected(f"malformed {delivery.event.type} event: {type(exc).__name__}: {exc}"[:500]) from exc
        if attempt.posted:
            result = {**(result or {}), "posted": attempt.posted}
        return result

    # -- the card --------------------------------------------------------------------------------

    async def _card_ref(self, attempt: _Attempt, plan_id: str, *, post_missing: bool = True) -> dict[str, Any] | None:
        """Where the plan's Slack card is; a card that should exist and does not yet is posted now, from the
        current state. None when the plan is not Slack's (or is gone)."""
        await self._use_plans_workspace(attempt, plan_id)
        ref = await self.service.queries.message_ref(plan_id)
        if ref:
            return ref if ref.get("front") == "slack" and ref.get("ts") else None
        if not post_missing:
            return None
        try:
            context = await self.service.queries.card_context(plan_id)
        except NotFound:
            return None
        origin = context.task.origin or {}
        channel = origin.get("channel") or origin.get("channel_id")
        if origin.get("front") != "slack":
            return None
        if not channel:
            logger.warning("plan %s came from Slack without a channel; its card cannot be posted", plan_id)
            return None
        card = await current_card(self.service, plan_id)
        ts = await attempt.post("card", str(channel), card.text, blocks=card.blocks)
        changes = {"front": "slack", "channel": str(channel), "ts": ts, "card": fingerprint(card)}
        return await self.service.queries.update_message_ref(plan_id, changes)

    async def _refresh_card(self, attempt: _Attempt, plan_id: str, ref: dict[str, Any] | None = None) -> None:
        ref = ref or await self._card_ref(attempt, plan_id)
        if ref is None:
            return
        try:
            card = await current_card(self.service, plan_id)
        except NotFound:
            return
        shown = fingerprint(card)
        if ref.get("card") == shown:
            return  # the card already shows this
        try:
            await attempt.client.chat_update(channel=ref["channel"], ts=ref["ts"], text=card.text, blocks=card.blocks)
        except SlackApiError as exc:
            if _error(exc) in GONE_ERRORS:
                logger.info("card of plan %s is gone (%s); not rewritten", plan_id, _error(exc))
                return
            raise
        await self.service.queries.update_message_ref(plan_id, {"card": shown})

    async def _reply(self, attempt: _Attempt, ref: dict[str, Any], part: str, text: str, *, broadcast: bool = False) -> None:
        try:
            await attempt.post(part, ref["channel"], text, thread_ts=ref["ts"], broadcast=broadcast)
        except SlackApiError as exc:
            if _error(exc) not in GONE_ERRORS:
                raise
            logger.info("thread of card %s is gone (%s); reply dropped", ref["ts"], _error(exc))

    # -- one handler per event type ---------------------------------------------------------------

    async def _on_planned(self, attempt: _Attempt) -> dict[str, Any] | None:
        ref = await self._card_ref(attempt, attempt.data["plan_id"])
        if ref is None:
            return None
        await self.charts.report(attempt, ref, attempt.data["plan_id"], self._chart_text(attempt, ref))
        return {"ts": ref["ts"]}

    async def _on_card_change(self, attempt: _Attempt) -> dict[str, Any] | None:
        data = attempt.data
        # A replaced plan that never had a card gets none now: its successor's card is the one to decide on.
        ref = await self._card_ref(attempt, data["plan_id"], post_missing=attempt.event.type != "plan.superseded")
        if ref is None:
            return None
        if attempt.event.type == "approval.expired" and data.get("renotify"):
            plan = await self.service.get_plan(data["plan_id"])
            who = (await self.service.ballot(plan)).who
            await self._reply(attempt, ref, "reply", messages.approval_reminder(who, float(data.get("ttl_seconds") or 0)))
        await self._refresh_card(attempt, data["plan_id"], ref)
        return None

    async def _on_freeze(self, attempt: _Attempt) -> dict[str, Any] | None:
        """Every open card of the environment (waiting plans, running or paused runs) shows the freeze, or stops."""
        refreshed = 0
        for plan_id in await self.service.open_plan_ids(attempt.data["environment"], workspace=attempt.data.get("workspace")):
            ref = await self._card_ref(attempt, plan_id, post_missing=False)
            if ref is not None:
                await self._refresh_card(attempt, plan_id, ref)
                refreshed += 1
        return {"cards": refreshed}

    async def _on_run_started(self, attempt: _Attempt) -> dict[str, Any] | None:
        data = attempt.data
        ref = await self._card_ref(attempt, data["plan_id"])
        if ref is None:
            return None
        text = messages.run_progress(int(data["total_phases"]), int(data["total_assets"]), data["run_id"], 0, 0)
        ts = await attempt.post("progress", ref["channel"], text, thread_ts=ref["ts"], run_id=data["run_id"])
        ref = await self.service.queries.update_message_ref(data["plan_id"], {progress_key(data["run_id"]): ts}) or ref
        await self._refresh_card(attempt, data["plan_id"], ref)
        return {"ts": ts}

    async def _on_phase_started(self, attempt: _Attempt) -> dict[str, Any] | None:
        data = attempt.data
        ref = await self._card_ref(attempt, data["plan_id"])
        if ref is None:
            return None
        text = messages.phase_started(int(data["index"]), int(data["total_phases"]), data["name"], list(data.get("assets") or []))
        await self._reply(attempt, ref, "reply", text)
        return None

    async def _on_phase_completed(self, attempt: _Attempt) -> dict[str, Any] | None:
        data = attempt.data
        ref = await self._card_ref(attempt, data["plan_id"])
        if ref is None:
            return None
        text = messages.phase_completed(
            int(data["index"]),
            int(data["total_phases"]),
            data["name"],
            int(data.get("assets_changed") or 0),
            data.get("health") or {},
            data.get("next_wait_seconds"),
            data.get("outcomes") or {},
            tuple(data.get("failures") or ()),
        )
        await self._reply(attempt, ref, "reply", text)
        await self._edit_progress(attempt, ref, int(data["index"]) + 1)
        return None

    async def _on_paused(self, attempt: _Attempt) -> dict[str, Any] | None:
        data = attempt.data
        ref = await self._card_ref(attempt, data["plan_id"])
        if ref is None:
            return None
        done, total = int(data["phases_completed"]), int(data["total_phases"])
        if data.get("actor") == SYSTEM_ACTOR:
            text = messages.run_waiting(data.get("reason") or "a step needs a person", done, total)
        else:
            text = messages.run_paused(data["actor"], done, total)
        await self._reply(attempt, ref, "reply", text)
        await self._refresh_card(attempt, data["plan_id"], ref)
        return None

    async def _on_resumed(self, attempt: _Attempt) -> dict[str, Any] | None:
        data = attempt.data
        ref = await self._card_ref(attempt, data["plan_id"])
        if ref is None:
            return None
        text = messages.run_resumed(data["actor"], int(data["phases_completed"]), int(data["total_phases"]))
        await self._reply(attempt, ref, "reply", text)
        await self._refresh_card(attempt, data["plan_id"], ref)
        return None

    async def _on_run_finished(self, attempt: _Attempt) -> dict[str, Any] | None:
        data = attempt.data
        ref = await self._card_ref(attempt, data["plan_id"])
        if ref is None:
            return None
        state = str(data.get("state") or "completed")
        text = messages.run_finished(
            state,
            data.get("reason"),
            int(data.get("assets_changed") or 0),
            int(data.get("assets_rolled_back") or 0),
            int(data.get("phases_completed") or 0),
            int(data.get("total_phases") or 0),
            float(data.get("duration_seconds") or 0.0),
        )
        await self._reply(attempt, ref, "reply", text, broadcast=state in BROADCAST_STATES)
        if state != "completed":  # a completed run's last phase already brought its progress to N of N
            await self._edit_progress(attempt, ref, int(data.get("phases_completed") or 0), ended=True)
        await self._refresh_card(attempt, data["plan_id"], ref)
        await self.charts.run(attempt, ref, data["plan_id"], data["run_id"], self._chart_text(attempt, ref))
        return None

    def _chart_text(self, attempt: _Attempt, ref: dict[str, Any]) -> Callable[[str], Awaitable[None]]:
        """Posts a chart's numbers as text in the card's thread (when the chart cannot be drawn or uploaded)."""

        async def reply(text: str) -> None:
            await self._reply(attempt, ref, "chart", text)

        return reply

    async def _edit_progress(self, attempt: _Attempt, ref: dict[str, Any], phases_done: int, *, ended: bool = False) -> None:
        """The run's progress message says ``phases_done`` of its phases are done (and how it ended)."""
        data = attempt.data
        run_id = data["run_id"]
        try:
            plan = await self.service.get_plan(data["plan_id"])
        except NotFound:
            return
        phases = execution_phases(plan)
        total_assets = len(plan.payload.affected_assets)
        assets_done = sum(len(phase.assets) for phase in phases[:phases_done])
        text = messages.run_progress(len(phases), total_assets, run_id, phases_done, assets_done, ended)
        ts = ref.get(progress_key(run_id)) or await attempt.find_progress(ref, run_id)
        if ts is not None:
            try:
                await attempt.client.chat_update(channel=ref["channel"], ts=ts, text=text)
                return
            except SlackApiError as exc:
                if _error(exc) not in GONE_ERRORS:
                    raise
        # Never posted (the run started before this subscriber existed) or deleted: a new one, from now on edited.
        ts = await attempt.post("progress", ref["channel"], text, thread_ts=ref["ts"], run_id=run_id)
        await self.service.queries.update_message_ref(data["plan_id"], {progress_key(run_id): ts})

    async def _on_answered(self, attempt: _Attempt) -> dict[str, Any] | None:
        """An ask that did not become a plan: the asker learns why, privately (no change: in the channel)."""
        data = attempt.data
        origin = data.get("origin") or {}
        outcome, message = data.get("outcome"), str(data.get("message") or "")
        channel = origin.get("channel") or origin.get("channel_id")
        if self.teams is not None:
            attempt.client = await self.teams.client(origin.get("team"))
        if outcome == "no_change":
            text = messages.no_change(message)
            if channel:
                try:
                    ts = await attempt.post("answer", str(channel), text, blocks=text_card(text))
                    return {"ts": ts}
                except SlackApiError as exc:
                    if _error(exc) not in REJECTED_ERRORS:
                        raise
                    logger.info("could not answer in %s (%s); answering privately", channel, _error(exc))
            await self._privately(attempt, origin, text)
            return None
        choices = [c for c in data.get("choices") or [] if isinstance(c, dict) and c.get("agent")]
        if outcome == "invalid" and choices:
            card = choices_card(choices)  # "did you mean": a button per likely reading
            await self._privately(attempt, origin, card.text, card.blocks)
            return None
        if outcome == "invalid":
            text = messages.cannot_map(message, EXAMPLE_ASKS)
        else:
            errors = [str(e) for e in data.get("errors") or []]
            detail = message + ("\n" + "\n".join(f"• {e}" for e in errors[:5]) if errors else "")
            text = messages.planning_failed(detail)
        await self._privately(attempt, origin, text)
        return None

    async def _privately(self, attempt: _Attempt, origin: dict[str, Any], text: str, blocks: list[dict] | None = None) -> None:
        """Through the ask's response_url while Slack still takes it, else an ephemeral message in its channel."""
        url = origin.get("response_url")
        if url:
            try:
                answer = await AsyncWebhookClient(str(url), timeout=int(self.response_timeout)).send(
                    text=text, response_type="ephemeral", replace_original=False, blocks=blocks or None
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                logger.info("response_url failed (%s); answering with an ephemeral message", type(exc).__name__)
            else:
                if answer.status_code == 200:
                    return
                logger.info("response_url answered %s; answering with an ephemeral message", answer.status_code)
        channel = origin.get("channel") or origin.get("channel_id")
        user = origin.get("user") or origin.get("user_id")
        if not channel or not user:
            raise DeliveryRejected("the ask names no channel and user to answer, and its response_url did not take it")
        await attempt.client.chat_postEphemeral(channel=str(channel), user=str(user), text=text, blocks=blocks or None)

    # -- which workspace (OAuth mode) ---------------------------------------------------------------

    async def _use_plans_workspace(self, attempt: _Attempt, plan_id: str) -> None:
        """OAuth mode: the attempt's calls about this plan go out with the bot token of the workspace its task came
        from (the task's origin ``team``; remembered per plan, which never changes workspace)."""
        if self.teams is None:
            return
        if plan_id in self._team_of_plan:
            team = self._team_of_plan[plan_id]
        else:
            try:
                context = await self.service.queries.card_context(plan_id)
            except NotFound:
                return
            team = (context.task.origin or {}).get("team")
            self._team_of_plan[plan_id] = team
            while len(self._team_of_plan) > REMEMBERED:
                self._team_of_plan.popitem(last=False)
        attempt.client = await self.teams.client(team)

    # -- what this process posted (so a retry here needs no lookup) --------------------------------

    def remember(self, event_id: str, part: str, ts: str) -> None:
        self._posted[(event_id, part)] = ts
        self._posted.move_to_end((event_id, part))
        while len(self._posted) > REMEMBERED:
            self._posted.popitem(last=False)

    def remembered(self, event_id: str, part: str) -> str | None:
        return self._posted.get((event_id, part))


class _Attempt:
    """One delivery attempt: posts carry the event's id in their metadata, and when an earlier attempt may have posted
    (``unfinished``, or any retry) the thread or channel is read before posting again."""

    def __init__(self, subscriber: SlackSubscriber, delivery: Delivery) -> None:
        self.subscriber = subscriber
        self.client = subscriber.client
        self.event = delivery.event
        self.data = delivery.event.data
        self.check = delivery.unfinished or delivery.attempt > 1
        previous = (delivery.previous_result or {}).get("posted")
        self.known: dict[str, str] = dict(previous) if isinstance(previous, dict) else {}
        self.posted: dict[str, str] = {}

    async def post(
        self,
        part: str,
        channel: str,
        text: str,
        *,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        broadcast: bool = False,
        run_id: str | None = None,
    ) -> str:
        """Post this event's message ``part`` once: its ts if it was posted already, else post it."""
        ts = self.known.get(part) or self.subscriber.remembered(self.event.id, part)
        if ts is None and self.check:
            mine = self.event.id
            ts = await self._find(channel, thread_ts, lambda p: p.get("event_id") == mine and p.get("part") == part)
        if ts is None:
            payload: dict[str, Any] = {"event_id": self.event.id, "part": part}
            if run_id:
                payload["run_id"] = run_id
            options: dict[str, Any] = {"blocks": blocks} if blocks is not None else {}
            if thread_ts is not None:
                options["thread_ts"] = thread_ts
                if broadcast:
                    options["reply_broadcast"] = True
            response = await self.client.chat_postMessage(
                channel=channel,
                text=text,
                metadata={"event_type": METADATA_TYPE, "event_payload": payload},
                **options,
            )
            ts = str(response["ts"])
        self.subscriber.remember(self.event.id, part, ts)
        self.posted[part] = ts
        return ts

    async def find_progress(self, ref: dict[str, Any], run_id: str) -> str | None:
        """The run's progress message in the card's thread, by its metadata (when its ts was not recorded)."""
        return await self._find(
            ref["channel"], ref["ts"], lambda payload: payload.get("part") == "progress" and payload.get("run_id") == run_id
        )

    async def _find(self, channel: str, thread_ts: str | None, match: Callable[[dict[str, Any]], bool]) -> str | None:
        """A message of ours in the thread (or the channel's recent history) whose metadata ``match``es."""

        def matches(message: dict[str, Any]) -> bool:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
            return metadata.get("event_type") == METADATA_TYPE and isinstance(payload, dict) and match(payload)

        return await self.find_message(channel, thread_ts, matches)

    async def find_message(self, channel: str, thread_ts: str | None, matches: Callable[[dict[str, Any]], bool]) -> str | None:
        """The ts of a message in the thread (or the channel's recent history) that ``matches``."""
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            options: dict[str, Any] = {"limit": 200, "include_all_metadata": True}
            if cursor:
                options["cursor"] = cursor
            if thread_ts is not None:
                response = await self.client.conversations_replies(channel=channel, ts=thread_ts, **options)
            else:
                oldest = (self.event.time - LOOKUP_MARGIN).timestamp()
                response = await self.client.conversations_history(channel=channel, oldest=f"{oldest:.6f}", **options)
            for message in response.get("messages") or []:
                if matches(message):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return None
        return None


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown_error")) if exc.response is not None else "unknown_error"


def _translated(exc: SlackApiError, event: CloudEvent) -> Exception:
    retry_after = retry_after_of(exc)
    if retry_after is not None:
        return DeliveryFailed(f"Slack rate limited {event.type}; retry in {retry_after:.0f}s", retry_after=retry_after)
    error = _error(exc)
    if error in REJECTED_ERRORS:
        return DeliveryRejected(f"Slack refused {event.type}: {error}")
    return DeliveryFailed(f"Slack failed on {event.type}: {error}")
