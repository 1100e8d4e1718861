"""The Slack front: a Bolt ``AsyncApp`` whose listeners stay thin (payload → core call → Block Kit)."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.asks import handle_ask
from bot.blocks import (
    ABORT_ACTION,
    APPROVE_ACTION,
    PAUSE_ACTION,
    REASON_ACTION,
    REASON_BLOCK,
    REJECT_ACTION,
    REJECT_VIEW,
    RESUME_ACTION,
    home_view,
    reject_modal,
    run_status_card,
)
from bot.catalogue import agents_text, tools_text
from core.errors import ConfigError, NotFound
from core.intake import normalize_text
from core.llm.offline import EXAMPLE_ASKS
from core.service import OpsPilot

logger = logging.getLogger(__name__)


def build_client(token: str, api_url: str) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=5), AsyncConnectionErrorRetryHandler(max_retry_count=2)],
    )


async def status_answer(service: OpsPilot, run_id: str | None) -> dict:
    """`/ops status RUN_ID`: the run's summary card, or what would work (an ephemeral response either way)."""
    if not run_id:
        return {"text": messages.status_usage(), "response_type": "ephemeral", "replace_original": False}
    try:
        card = run_status_card(await service.run_status(run_id))
    except NotFound as exc:
        return {"text": messages.status_unknown(str(exc)), "response_type": "ephemeral", "replace_original": False}
    return {"text": card.text, "blocks": card.blocks, "response_type": "ephemeral", "replace_original": False}


async def inventory_refresh_answer(service: OpsPilot) -> dict:
    """`/ops inventory refresh`: re-read the inventory and say what changed (ephemeral; anyone may, it changes no asset)."""
    try:
        result = await service.refresh_inventory()
    except ConfigError as exc:
        text = messages.inventory_refresh_failed(str(exc))
    else:
        text = messages.inventory_refreshed(
            result.source,
            result.assets,
            list(result.added),
            list(result.removed),
            list(result.changed),
            dict(result.left_out),
        )
    return {"text": text, "response_type": "ephemeral", "replace_original": False}


def build_app(service: OpsPilot, client: AsyncWebClient, signing_secret: str) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=False)

    @app.command("/ops")
    async def on_ops(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        text = normalize_text(command.get("text", ""))
        keyword = text.lower()
        if keyword in ("", "help", "?"):
            await ack(text=messages.usage(EXAMPLE_ASKS))
            return
        if keyword == "agents":
            await ack(text=agents_text(service))
            return
        if keyword == "tools":
            await ack(text=tools_text(service))
            return
        if keyword == "inventory refresh":
            await ack()
            await respond(**await inventory_refresh_answer(service))
            return
        words = text.split()
        if words and words[0].lower() == "status" and len(words) <= 2:
            await ack()
            await respond(**await status_answer(service, words[1] if len(words) == 2 else None))
            return
        await ack(text=messages.working_on(text))

        async def reply_privately(message: str) -> None:
            await respond(text=message, response_type="ephemeral", replace_original=False)

        await handle_ask(
            service,
            client,
            text=text,
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            reply_privately=reply_privately,
            via="slash_command",
        )

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        text = normalize_text(event.get("text", ""))
        user_id, channel_id = event.get("user"), event.get("channel")
        if not user_id or not channel_id:
            return

        async def reply_privately(message: str) -> None:
            try:
                await client.chat_postEphemeral(channel=channel_id, user=user_id, text=message)
            except SlackApiError as exc:
                logger.warning("could not answer mention privately: %s", exc.response.get("error"))

        if text.lower() in ("", "help", "?"):
            await reply_privately(messages.usage(EXAMPLE_ASKS))
            return
        await handle_ask(
            service, client, text=text, user_id=user_id, channel_id=channel_id, reply_privately=reply_privately, via="mention"
        )

    async def tell(client: AsyncWebClient, channel_id: str | None, user_id: str, status: str, message: str) -> None:
        text = messages.plan_gone() if status == "not_found" else messages.refusal(status, message)
        if channel_id:
            try:
                await client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            except SlackApiError as exc:
                logger.warning("could not send ephemeral to %s: %s", user_id, exc.response.get("error"))

    def _where(body: dict) -> tuple[str, str | None]:
        channel_id = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
        return body["user"]["id"], channel_id

    @app.action(APPROVE_ACTION)
    async def on_approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id, channel_id = _where(body)
        outcome = await service.decide(action.get("value", ""), user_id, "approved")
        if not outcome.changed:  # a change rewrites the card through SlackProgress, whatever front decided
            await tell(client, channel_id, user_id, outcome.status, outcome.message)

    @app.action(REJECT_ACTION)
    async def on_reject(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id, channel_id = _where(body)
        check = await service.may_decide(action.get("value", ""), user_id)
        if check.status != "allowed":
            await tell(client, channel_id, user_id, check.status, check.message)
            return
        assert check.plan is not None  # "allowed" always carries the plan
        await client.views_open(trigger_id=body["trigger_id"], view=reject_modal(check.plan, channel_id))

    @app.view(REJECT_VIEW)
    async def on_reject_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        reason = (((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}).get(REASON_ACTION, {}).get("value")
        user_id = body["user"]["id"]
        outcome = await service.decide(meta.get("plan_id", ""), user_id, "rejected", reason=(reason or "").strip() or None)
        if not outcome.changed:
            await tell(client, meta.get("channel_id"), user_id, outcome.status, outcome.message)

    async def control(
        body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, verb: Literal["pause", "resume", "abort"]
    ) -> None:
        user_id, channel_id = _where(body)
        outcome = await service.control_run(action.get("value", ""), user_id, verb)
        if outcome.status in ("paused", "resumed", "aborted"):
            return  # the thread and the card tell everyone, through SlackProgress
        if channel_id:
            text = (
                messages.refusal("not_allowed", outcome.message)
                if outcome.status == "not_allowed"
                else messages.run_control_refused(outcome.message)
            )
            try:
                await client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            except SlackApiError as exc:
                logger.warning("could not send ephemeral to %s: %s", user_id, exc.response.get("error"))

    @app.action(PAUSE_ACTION)
    async def on_pause(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await control(body, action, client, "pause")

    @app.action(RESUME_ACTION)
    async def on_resume(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await control(body, action, client, "resume")

    @app.action(ABORT_ACTION)
    async def on_abort(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await control(body, action, client, "abort")

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        tasks = await service.store.recent_tasks(limit=15)
        rows = []
        for task in tasks:
            plans = await service.store.plans_for_task(task.id)
            rows.append((task, plans[-1] if plans else None))
        await client.views_publish(user_id=event["user"], view=home_view(rows, EXAMPLE_ASKS))

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        """Channel chatter is not for us; acknowledging it keeps Slack from retrying."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        logger.error("unhandled error in a Slack listener: %r", error, exc_info=error)

    return app
