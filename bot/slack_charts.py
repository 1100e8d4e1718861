"""Charts in Slack threads (``bot/charts``): a report card's chart after the card is posted (``task.planned`` of a
cost or incident report), a run's phase timeline after its final message.

Uploaded with ``files.uploadV2`` into the card's thread, once per plan or run whatever the redeliveries: the upload is
remembered as the attempt's message part ``chart`` (so a retry here or a later attempt knows it), recorded in the
card's message ref (``chart:<plan or run id>``), and an attempt that may follow an unfinished one reads the thread
for the file (by its name, which names the plan or run) or its text before uploading again.

A chart that cannot be drawn (bad or missing data, matplotlib missing) or uploaded (any Slack or network error) is
posted as text with the same numbers: the delivery is never lost, and the subscriber never fails for a chart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import messages
from bot.charts import Chart, phase_chart, report_chart
from bot.charts.render import render_or_none
from core.errors import NotFound
from core.service import OpsPilot

if TYPE_CHECKING:
    from bot.slack_delivery import _Attempt

logger = logging.getLogger(__name__)

PART = "chart"
UPLOAD_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError, OSError)

Reply = Callable[[str], Awaitable[None]]  # posts text in the card's thread as the attempt's part "chart"


def ref_key(chart: Chart) -> str:
    return f"chart:{chart.key}"


class ChartPoster:
    def __init__(self, service: OpsPilot) -> None:
        self.service = service

    async def report(self, attempt: _Attempt, ref: dict[str, Any], plan_id: str, reply: Reply) -> None:
        """The chart of a report plan (cost: savings; incident: error timeline) in its card's thread, if it has one."""
        try:
            plan = await self.service.get_plan(plan_id)
        except NotFound:
            return
        chart = _built(lambda: report_chart(plan), plan_id)
        if chart is not None:
            await self._post(attempt, ref, plan_id, chart, reply)

    async def run(self, attempt: _Attempt, ref: dict[str, Any], plan_id: str, run_id: str, reply: Reply) -> None:
        """The phase timeline of a finished run in its card's thread."""
        try:
            context = await self.service.queries.card_context(plan_id)
            run = context.run if context.run is not None and context.run.id == run_id else None
            if run is None:
                run = await self.service.queries.run_with_audit(run_id)
        except NotFound:
            return
        chart = _built(lambda: phase_chart(run), run_id)
        if chart is not None:
            await self._post(attempt, ref, plan_id, chart, reply)

    async def _post(self, attempt: _Attempt, ref: dict[str, Any], plan_id: str, chart: Chart, reply: Reply) -> None:
        if ref.get(ref_key(chart)):
            return  # uploaded already (by another event of this plan or run)
        done = attempt.known.get(PART) or attempt.subscriber.remembered(attempt.event.id, PART)
        if done is None and attempt.check:
            done = await attempt.find_message(ref["channel"], ref["ts"], lambda m: _is_this_chart(m, chart, attempt.event.id))
        if done is not None:
            attempt.posted[PART] = done
            attempt.subscriber.remember(attempt.event.id, PART, done)
            return
        data = await render_or_none(chart)
        file_id = await self._upload(attempt, ref, chart, data) if data is not None else None
        if file_id is None:
            await reply(messages.chart_as_text(chart.alt_text))
            return
        done = f"file:{file_id}"
        attempt.posted[PART] = done
        attempt.subscriber.remember(attempt.event.id, PART, done)
        await self.service.queries.update_message_ref(plan_id, {ref_key(chart): file_id})

    async def _upload(self, attempt: _Attempt, ref: dict[str, Any], chart: Chart, data: bytes) -> str | None:
        """The uploaded file's id, or None when Slack (or the way to it) failed."""
        try:
            response = await attempt.client.files_upload_v2(
                channel=ref["channel"],
                thread_ts=ref["ts"],
                file=data,
                filename=chart.filename,
                title=chart.title,
                alt_txt=chart.alt,
                initial_comment=messages.chart_comment(chart.title),
            )
        except UPLOAD_ERRORS as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) and exc.response is not None else exc
            logger.warning(
                "the %s chart of %s could not be uploaded (%s); its numbers go out as text", chart.kind, chart.key, error
            )
            return None
        uploaded = response.get("file") or {}
        file_id = uploaded.get("id") if isinstance(uploaded, dict) else None
        return str(file_id) if file_id else "uploaded"


def _built(build: Callable[[], Chart | None], key: str) -> Chart | None:
    try:
        return build()
    except Exception as exc:  # data a chart cannot read costs the chart, never the delivery
        logger.warning("no chart for %s: its data could not be read (%s: %s)", key, type(exc).__name__, exc)
        return None


def _is_this_chart(message: dict[str, Any], chart: Chart, event_id: str) -> bool:
    """The chart's file (by its name) or the text posted instead of it (by the event in its metadata)."""
    if any(isinstance(f, dict) and f.get("name") == chart.filename for f in message.get("files") or []):
        return True
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return isinstance(payload, dict) and payload.get("event_id") == event_id and payload.get("part") == PART
