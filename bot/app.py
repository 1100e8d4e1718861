"""The Slack front: a Bolt ``AsyncApp`` whose listeners stay thin (payload → core call → Block Kit)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal, get_args

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.asks import record_ask
from bot.blocks import (
    ABORT_ACTION,
    APPROVE_ACTION,
    CHOICE_ACTION,
    PAUSE_ACTION,
    REASON_ACTION,
    REASON_BLOCK,
    REJECT_ACTION,
    REJECT_VIEW,
    RESUME_ACTION,
    home_view,
    plan_card,
    read_choice,
    reject_modal,
    run_status_card,
    seen_version,
)
from bot.catalogue import abilities, agents_text, tools_text
from bot.intake import Intake, is_help
from bot.report_blocks import REPORT_ACT_ACTION, read_act_value
from core.domain.spec import Environment
from core.errors import ConfigError, NotFound
from core.intake import Ask, normalize_text
from core.intake.keys import IntakeKey
from core.llm.offline import EXAMPLE_ASKS
from core.service import AskOutcome, OpsPilot

logger = logging.getLogger(__name__)


def build_client(token: str, api_url: str) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=5), AsyncConnectionErrorRetryHandler(max_retry_count=2)],
    )


RECENT_RUNS = 10  # how many runs `/ops runs` lists


def team_of(body: dict[str, Any]) -> str | None:
    """The workspace a Slack payload came from (commands, events, interactions each put it elsewhere)."""
    team = body.get("team")
    for candidate in (
        body.get("team_id"),
        team.get("id") if isinstance(team, dict) else team,
        (body.get("user") or {}).get("team_id"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def viewer(service: OpsPilot, body: dict[str, Any]) -> str | None:
    """The ``org`` a request from this payload sees: its workspace in OAuth mode, everything with one workspace."""
    return service.workspaces.viewer(team_of(body))


async def status_answer(service: OpsPilot, run_id: str | None, channel_id: str | None = None, *, org: str | None = None) -> dict:
    """`/ops status RUN_ID`: the run's summary card, or what would work (an ephemeral response either way).
    Without an id: the latest run asked for in ``channel_id``."""
    if not run_id and channel_id:
        latest = await service.queries.recent_runs(channel_id, limit=1, org=org)
        if not latest:
            return {"text": messages.no_run_here(), "response_type": "ephemeral", "replace_original": False}
        run_id = latest[0].run_id
    if not run_id:
        return {"text": messages.status_usage(), "response_type": "ephemeral", "replace_original": False}
    try:
        card = run_status_card(await service.run_status(run_id, org=org))
    except NotFound as exc:
        return {"text": messages.status_unknown(str(exc)), "response_type": "ephemeral", "replace_original": False}
    return {"text": card.text, "blocks": card.blocks, "response_type": "ephemeral", "replace_original": False}


async def runs_answer(service: OpsPilot, channel_id: str, *, org: str | None = None) -> dict:
    """`/ops runs`: the newest runs of this channel (of all channels when none was asked for here), ephemeral."""
    rows = await service.queries.recent_runs(channel_id, limit=RECENT_RUNS, org=org)
    here = bool(rows)
    if not here:
        rows = await service.queries.recent_runs(None, limit=RECENT_RUNS, org=org)
    lines = [
        messages.run_line(r.run_id, r.state, r.environment, r.ask, r.created_at.strftime("%Y-%m-%d %H:%M UTC")) for r in rows
    ]
    return {"text": messages.runs_list(lines, here=here), "response_type": "ephemeral", "replace_original": False}


def dry_run_reply(outcome: AskOutcome) -> dict:
    """What `/ops dry-run` answers privately: the plan card without buttons, or why there is no plan."""
    if outcome.kind == "plan" and outcome.plan is not None and outcome.task is not None:
        card = plan_card(outcome.task, outcome.plan, note=outcome.note, stored=False)
        note = {"type": "context", "elements": [{"type": "mrkdwn", "text": messages.dry_run_note()}]}
        # Nothing on a dry run's card can be clicked: the plan was never stored (a report's finding buttons included).
        blocks = [{k: v for k, v in b.items() if k != "accessory"} for b in card.blocks if b.get("type") != "actions"]
        blocks = [*blocks[:-1][:48], note, blocks[-1]]
        return {"text": card.text, "blocks": blocks, "response_type": "ephemeral", "replace_original": False}
    if outcome.kind == "no_change":
        text = messages.no_change(outcome.message)
    elif outcome.kind == "invalid" and outcome.choices:
        text = messages.did_you_mean_text([c.label for c in outcome.choices])
    elif outcome.kind == "invalid":
        text = messages.cannot_map(outcome.message, EXAMPLE_ASKS)
    else:
        detail = outcome.message + "".join(f"\n• {e}" for e in outcome.errors[:5])
        text = messages.planning_failed(detail)
    return {"text": text, "response_type": "ephemeral", "replace_original": False}


async def dry_run_answer(service: OpsPilot, text: str, user_id: str, channel_id: str, *, team_id: str | None = None) -> dict:
    """`/ops dry-run ASK`: planned like any ask, but nothing is recorded, stored or started."""
    extra = {"team": team_id} if team_id else {}
    ask = Ask.from_front(text, user_id, channel_id, front="slack", via="dry_run", channel=channel_id, user=user_id, **extra)
    try:
        outcome = await service.dry_run(ask)
    except Exception:
        logger.exception("dry run failed for %s", user_id)
        return {
            "text": messages.planning_failed("The dry run failed because of an internal error; it is in OpsPilot's log."),
            "response_type": "ephemeral",
            "replace_original": False,
        }
    return dry_run_reply(outcome)


async def inventory_refresh_answer(service: OpsPilot, *, org: str | None = None) -> dict:
    """`/ops inventory refresh`: re-read the inventory and say what changed (ephemeral; anyone may, it changes no asset)."""
    try:
        result = await service.refresh_inventory(org=org)
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


async def approvals_answer(service: OpsPilot, user_id: str, *, org: str | None = None) -> dict:
    """`/ops approvals`: the plans waiting for this user's approval (ephemeral)."""
    lines = [
        messages.waiting_line(
            w.plan.payload.summary, w.plan.environment, w.task.created_by, len(w.votes), w.required, w.plan.id, w.card
        )
        for w in await service.queries.waiting_for(user_id, org=org)
    ]
    return {"text": messages.approvals_waiting(lines), "response_type": "ephemeral", "replace_original": False}


async def audit_answer(service: OpsPilot, any_id: str, *, org: str | None = None) -> dict | None:
    """`/ops audit ID`: who did what and when for the task a task, plan or run id belongs to (ephemeral); None when
    there is no such id, so the text is an ask like any other ("audit our CIS controls in prod")."""
    timeline = await service.queries.audit_of(any_id, org=org)
    if timeline is None:
        return None
    lines = [
        messages.audit_line(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.entity_type,
            e.entity_id,
            e.event,
            f"{e.from_state or '∅'} → {e.to_state}" if e.to_state else None,
        )
        for e in timeline.entries
    ]
    text = messages.audit_trail(timeline.task_id, lines, timeline.consistent)
    return {"text": text, "response_type": "ephemeral", "replace_original": False}


def is_freeze_command(words: list[str]) -> bool:
    """`/ops freeze ENV REASON` or `/ops unfreeze ENV` with a known environment; "freeze the tmp directory cleanup on
    dev" is an ask like any other."""
    verb = words[0].lower() if words else ""
    environment = words[1].lower() if len(words) > 1 else ""
    if environment not in get_args(Environment) or environment == "all":
        return False
    return (verb == "freeze" and len(words) >= 3) or (verb == "unfreeze" and len(words) == 2)


async def freeze_answer(service: OpsPilot, words: list[str], user_id: str, *, org: str | None = None) -> dict | None:
    """`/ops freeze ENV REASON` / `/ops unfreeze ENV` (ephemeral). None when the words are not that command."""
    if not is_freeze_command(words):
        return None
    verb, environment = words[0].lower(), words[1].lower()
    if verb == "freeze":
        outcome = await service.freeze(environment, user_id, " ".join(words[2:]), org=org)
        text = messages.froze(environment, outcome.freeze.reason) if outcome.freeze is not None else None
    else:
        outcome = await service.unfreeze(environment, user_id, org=org)
        text = messages.unfroze(environment) if outcome.status == "unfrozen" else None
    if text is None:
        text = messages.freeze_refused(outcome.message)
    return {"text": text, "response_type": "ephemeral", "replace_original": False}


async def publish_home(
    service: OpsPilot, client: AsyncWebClient, user_id: str, notice: str | None = None, *, org: str | None = None
) -> None:
    """The viewer's own App Home, built now (when it is opened, and after a decision made from it)."""
    view = await service.queries.home_view(user_id, org=org)
    await client.views_publish(user_id=user_id, view=home_view(view, EXAMPLE_ASKS, notice))


def _from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


def build_app(
    service: OpsPilot, client: AsyncWebClient, signing_secret: str, *, oauth_settings: AsyncOAuthSettings | None = None
) -> AsyncApp:
    """``oauth_settings``: OAuth mode (bot/oauth): ``client`` holds no token, and Bolt's authorize resolves each
    request's workspace to its installation's bot token."""
    # The HTTP front (bot/server.py) checks the timestamp and the signature before Bolt sees a request, and Socket
    # Mode carries no signature: Bolt's own check would only verify the same HMAC a second time on every ack.
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        process_before_response=False,
        request_verification_enabled=False,
        oauth_settings=oauth_settings,
        user_facing_authorize_error_message=messages.not_installed() if oauth_settings is not None else None,
    )

    async def first_delivery(key: IntakeKey | None) -> bool:
        """Claim the delivery's intake key: False for Slack's retry or a replay, which must change nothing."""
        return key is None or await service.asks.keys.claim(key)

    app.middleware(Intake(service))

    @app.command("/ops")
    async def on_ops(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        text = normalize_text(command.get("text", ""))
        keyword = text.lower()
        key: IntakeKey | None = context.get("intake_key")
        org = viewer(service, command)
        if keyword in ("", "help", "?"):
            await ack(text=messages.usage(EXAMPLE_ASKS, abilities(service)))
            return
        if keyword == "agents":
            await ack(text=agents_text(service))
            return
        if keyword == "tools":
            await ack(text=tools_text(service))
            return
        if keyword == "inventory refresh":
            await ack()
            if not await first_delivery(key):
                return
            await respond(**await inventory_refresh_answer(service, org=org))
            return
        if keyword == "approvals":
            await ack()
            await respond(**await approvals_answer(service, command["user_id"], org=org))
            return
        if keyword == "runs":
            await ack()
            await respond(**await runs_answer(service, command["channel_id"], org=org))
            return
        words = text.split()
        if words and words[0].lower() == "dry-run":
            ask = text[len(words[0]) :].strip()
            if not ask:
                await ack(text=messages.DRY_RUN_USAGE)
                return
            await ack(text=messages.dry_run_working(ask))  # within Slack's 3 s; planning may take longer
            if not await first_delivery(key):
                return
            await respond(
                **await dry_run_answer(service, ask, command["user_id"], command["channel_id"], team_id=command.get("team_id"))
            )
            return
        if len(words) == 2 and words[0].lower() == "audit":
            audit = await audit_answer(service, words[1], org=org)
            if audit is not None:
                await ack()
                await respond(**audit)
                return
        if is_freeze_command(words):
            await ack()
            if not await first_delivery(key):
                return
            frozen = await freeze_answer(service, words, command["user_id"], org=org)
            if frozen is not None:
                await respond(**frozen)
            return
        if words and words[0].lower() == "status" and len(words) <= 2:
            await ack()
            run_id = words[1] if len(words) == 2 else None
            await respond(**await status_answer(service, run_id, command["channel_id"], org=org))
            return
        # The ask is recorded (with the delivery's key, in one transaction) before the ack: an acked ask is never
        # lost. A worker plans it; the card or the answer comes through the outbox.
        try:
            ask_id = await record_ask(
                service,
                text=text,
                user_id=command["user_id"],
                channel_id=command["channel_id"],
                via="slash_command",
                key=key,
                team_id=command.get("team_id"),
                response_url=command.get("response_url"),
            )
        except Exception:
            logger.exception("could not record an ask from %s", command["user_id"])
            await ack(text=messages.planning_failed("OpsPilot could not record your ask just now; try again in a moment."))
            return
        if ask_id is None:
            await ack()  # Slack's retry or a replay of an ask already recorded
            return
        await ack(text=messages.working_on(text))

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
        """An ask was recorded by the intake middleware (bot/intake.py); only help is answered here."""
        user_id, channel_id = event.get("user"), event.get("channel")
        if context.get("ask_id") or not user_id or not channel_id:
            return
        if is_help(normalize_text(event.get("text", ""))):
            try:
                await client.chat_postEphemeral(
                    channel=channel_id, user=user_id, text=messages.usage(EXAMPLE_ASKS, abilities(service))
                )
            except SlackApiError as exc:
                logger.warning("could not answer mention privately: %s", exc.response.get("error"))

    def _refusal_text(status: str, message: str) -> str:
        return messages.plan_gone() if status == "not_found" else messages.refusal(status, message)

    async def tell(client: AsyncWebClient, channel_id: str | None, user_id: str, status: str, message: str) -> None:
        text = _refusal_text(status, message)
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
        # The vote is committed before the ack (one short transaction): a replica killed right after the ack has
        # recorded it, and Slack never retries an acked click.
        user_id, channel_id = _where(body)
        try:
            outcome = await service.decide(
                action.get("value", ""),
                user_id,
                "approved",
                seen_hash=seen_version(action.get("block_id")),
                org=viewer(service, body),
            )
        finally:
            await ack()
        if _from_home(body):
            notice = None if outcome.changed else _refusal_text(outcome.status, outcome.message)
            await publish_home(service, client, user_id, notice, org=viewer(service, body))
        elif not outcome.changed:  # a change rewrites the card through SlackProgress, whatever front decided
            await tell(client, channel_id, user_id, outcome.status, outcome.message)

    @app.action(REJECT_ACTION)
    async def on_reject(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id, channel_id = _where(body)
        check = await service.may_decide(action.get("value", ""), user_id, org=viewer(service, body))
        if check.status != "allowed":
            if _from_home(body):
                await publish_home(
                    service, client, user_id, _refusal_text(check.status, check.message), org=viewer(service, body)
                )
            else:
                await tell(client, channel_id, user_id, check.status, check.message)
            return
        assert check.plan is not None  # "allowed" always carries the plan
        await client.views_open(trigger_id=body["trigger_id"], view=reject_modal(check.plan, channel_id))

    @app.view(REJECT_VIEW)
    async def on_reject_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        reason = (((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}).get(REASON_ACTION, {}).get("value")
        user_id = body["user"]["id"]
        try:  # committed before the ack, as a vote
            outcome = await service.decide(
                meta.get("plan_id", ""),
                user_id,
                "rejected",
                reason=(reason or "").strip() or None,
                org=viewer(service, body),
            )
        finally:
            await ack()
        if not meta.get("channel_id"):  # opened from the App Home: show the outcome there
            notice = None if outcome.changed else _refusal_text(outcome.status, outcome.message)
            await publish_home(service, client, user_id, notice, org=viewer(service, body))
        elif not outcome.changed:
            await tell(client, meta.get("channel_id"), user_id, outcome.status, outcome.message)

    async def control(
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        verb: Literal["pause", "resume", "abort"],
        ack: AsyncAck | None = None,
    ) -> None:
        """Pause and resume commit before the ack (``ack`` given), so a replica killed after it has recorded them; an
        abort is acked first because it waits for the rollback (its request is committed at once, before the wait)."""
        user_id, channel_id = _where(body)
        try:
            outcome = await service.control_run(action.get("value", ""), user_id, verb, org=viewer(service, body))
        finally:
            if ack is not None:
                await ack()
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
        await control(body, action, client, "pause", ack)

    @app.action(RESUME_ACTION)
    async def on_resume(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await control(body, action, client, "resume", ack)

    @app.action(ABORT_ACTION)
    async def on_abort(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await control(body, action, client, "abort")

    @app.action(re.compile(rf"^{CHOICE_ACTION}:\d+$"))
    async def on_choice(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """A "did you mean" button: the ask goes on as if it had said that reading (recorded like any ask; a worker
        plans it with the agent picked, and its card or answer comes through the outbox as usual)."""
        await ack()
        picked = read_choice(action.get("value"))
        user_id, channel_id = _where(body)
        if picked is None or not channel_id:
            return
        agent, text = picked
        label = str((action.get("text") or {}).get("text") or agent)
        try:
            await record_ask(
                service,
                text=text,
                user_id=user_id,
                channel_id=channel_id,
                via="did_you_mean",
                key=None,  # the interaction's key was claimed by the middleware
                team_id=(body.get("team") or {}).get("id"),
                response_url=body.get("response_url"),
                agent=agent,
            )
        except Exception:
            logger.exception("could not record the reading %s picked by %s", agent, user_id)
            await respond(
                text=messages.planning_failed("OpsPilot could not record your choice just now; click it again in a moment."),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        await respond(text=messages.chose(label), response_type="ephemeral", replace_original=True)

    @app.action(re.compile(rf"^{REPORT_ACT_ACTION}:\d+$"))
    async def on_report_act(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        """A report finding's button: its change becomes an ask, recorded like a typed one before the ack (a worker
        plans it; its card comes through the outbox). A bad or stale click gets a private answer and records nothing."""
        user_id, channel_id = _where(body)
        picked = read_act_value(action.get("value"))
        text = messages.finding_refused("That button is not one of OpsPilot's.")
        try:
            if picked is not None and channel_id:
                plan_id, index, seen = picked
                origin = {"front": "slack", "via": "report_action", "channel": channel_id, "user": user_id}
                team = team_of(body)
                if team:
                    origin["team"] = team
                reply = {"response_url": body["response_url"]} if body.get("response_url") else None
                outcome = await service.act_on_finding(
                    plan_id, index, user_id, origin, channel_id=channel_id, reply=reply, seen=seen, org=viewer(service, body)
                )
                text = messages.finding_asked(outcome.message) if outcome.recorded else messages.finding_refused(outcome.message)
        except Exception:
            logger.exception("could not act on a report finding for %s", user_id)
            text = messages.planning_failed("OpsPilot could not record that just now; click it again in a moment.")
        finally:
            await ack()
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await publish_home(service, client, event["user"], org=viewer(service, body))

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        """Channel chatter is not for us; acknowledging it keeps Slack from retrying."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        logger.error("unhandled error in a Slack listener: %r", error, exc_info=error)

    return app
