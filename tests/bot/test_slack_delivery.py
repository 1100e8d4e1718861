"""The Slack front as an outbox subscriber, against the emulator: the card from ``task.planned``, one progress message
per run edited in place, a bounded number of Web API calls per run whatever its size, failures broadcast to the
channel, rate limits shared by replicas, and every message posted once per event id."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER
from bot.slack_delivery import METADATA_TYPE, SlackSubscriber, progress_key
from bot.slack_limits import SharedRateLimits, delivery_client
from core.clock import ManualClock
from core.errors import DeliveryFailed, DeliveryRejected
from core.events import PhaseStarted, RunStarted
from core.intake import Ask
from core.outbox.base import Delivery
from core.outbox.envelope import CloudEvent, to_cloud_event
from core.service import OpsPilot
from tests.bot.conftest import BOT_TOKEN

ASK = "fix drift on staging web servers"


def fleet(folder: Path, size: int) -> Path:
    """``size`` drifted staging web servers (image 2.3.9, golden 2.4.1)."""
    folder.mkdir(parents=True, exist_ok=True)
    assets = [
        {
            "id": f"web-stg-{i:04d}",
            "environment": "staging",
            "role": "web-server",
            "platform": "aws",
            "region": "us-east-1",
            "image": "ubuntu-base",
            "image_version": "2.3.9",
        }
        for i in range(size)
    ]
    path = folder / "fleet.json"
    path.write_text(json.dumps({"golden_images": {"ubuntu-base": "2.4.1"}, "assets": assets}), encoding="utf-8")
    return path


def buttons(message) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


async def settled(service: OpsPilot, timeout: float = 30.0) -> None:
    """Every Slack delivery written so far is done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await service.queries.delivery_stats()).pending.get("slack", 0):
        assert loop.time() < deadline, "Slack deliveries still pending"
        await asyncio.sleep(0.05)


async def planned(world, text: str = ASK):
    """An ask from Slack, planned; returns (plan, its card) once the card is posted from the outbox."""
    emu, service = world.emulator, world.service
    outcome = await service.submit(Ask.from_front(text, REQUESTER, OPS_CHANNEL, front="slack", channel=OPS_CHANNEL))
    assert outcome.plan is not None, outcome.message
    card = await emu.wait_for(lambda: next((m for m in emu.messages(OPS_CHANNEL) if "plan_approve" in buttons(m)), None))
    await settled(service)
    return outcome.plan, card


def replica(world, clock: ManualClock | None = None, service: OpsPilot | None = None) -> SlackSubscriber:
    """Another Slack subscriber (another process's) on the same database and the same workspace."""
    service = service or world.service
    limits = SharedRateLimits(service.queries, clock or ManualClock())
    return SlackSubscriber(service, delivery_client(BOT_TOKEN, world.emulator.api_url, limits))


def phase_started(plan, run_id: str = "run-x", index: int = 0) -> CloudEvent:
    phase = plan.payload.phases[index]
    event = PhaseStarted(
        task_id=plan.task_id,
        plan_id=plan.id,
        run_id=run_id,
        index=index,
        name=phase.name,
        total_phases=len(plan.payload.phases),
        assets=tuple(phase.assets),
    )
    return to_cloud_event(event)


async def test_a_plan_from_slack_gets_its_card_from_the_outbox_and_its_place_is_recorded(world) -> None:
    plan, card = await planned(world)
    ref = await world.service.queries.message_ref(plan.id)
    assert ref["front"] == "slack" and ref["channel"] == card.channel and ref["ts"] == card.ts
    assert card.raw["metadata"]["event_type"] == METADATA_TYPE, "the card names the event that posted it"
    assert len([m for m in world.emulator.messages(OPS_CHANNEL) if buttons(m)]) == 1


async def test_a_run_makes_at_most_3_plus_3_calls_per_phase_whatever_its_size(make_world, tmp_path: Path) -> None:
    world = await make_world(fleet=fleet(tmp_path / "fleet", 300))
    emu, service = world.emulator, world.service
    plan, card = await planned(world)
    phases = len(plan.payload.phases)
    assert len(plan.payload.affected_assets) == 300 and phases >= 3

    before = len(emu.calls)
    assert (await service.decide(plan.id, APPROVER_1, "approved")).status == "approved"
    await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "Run completed" in m.text), None), 60)
    await settled(service)

    calls = emu.calls[before:]
    start = next(i for i, c in enumerate(calls) if c.method == "chat.postMessage" and "Run started" in c.params["text"])
    assert [c.method for c in calls[:start]] == ["chat.update"], "the decision rewrites the card once"
    run_calls = calls[start:]
    # ... and 2 for the phase timeline chart (files.getUploadURLExternal, files.completeUploadExternal)
    assert len(run_calls) <= 3 + 3 * phases + 2, [c.method for c in run_calls]
    assert all(c.ok for c in run_calls)

    thread = emu.thread(OPS_CHANNEL, card.ts)
    progress = thread[0]
    assert progress.edited and f"phase {phases} of {phases} done · 300/300 assets" in progress.text
    assert sum("Run started" in m.text for m in thread) == 1, "one progress message, edited in place"
    assert len(thread) == 2 + 2 * phases + 1  # progress, a start and an end per phase, the end of the run, the chart
    assert thread[-1].raw["files"][0]["name"].startswith("phases-"), "the phase timeline ends the thread"
    [run] = await service.store.runs_for_plan(plan.id, with_assets=False)
    assert (await service.queries.message_ref(plan.id))[progress_key(run.id)] == progress.ts
    final = emu.find_message(OPS_CHANNEL, card.ts)
    assert "Run completed" in json.dumps(final.blocks) and not buttons(final), "no Pause or Abort once the run ended"


async def test_a_rollback_is_broadcast_to_the_channel_and_the_card_loses_its_controls(make_world, tmp_path: Path) -> None:
    world = await make_world(fleet=fleet(tmp_path / "fleet", 20), fail_assets=["web-stg-0001"])
    emu, service = world.emulator, world.service
    plan, card = await planned(world)
    before = len(emu.calls)
    await service.decide(plan.id, APPROVER_1, "approved")
    ended = await emu.wait_for(lambda: next((m for m in emu.thread(OPS_CHANNEL, card.ts) if "rolled back" in m.text), None), 30)
    await settled(service)

    assert ended.broadcast and ended.raw["subtype"] == "thread_broadcast"
    assert ended in emu.channel_history(OPS_CHANNEL), "the channel sees the rollback, not only the thread"
    [sent] = [c for c in emu.calls_to("chat.postMessage")[-5:] if "rolled back" in str(c.params.get("text"))]
    assert sent.params["reply_broadcast"] in (True, "1", "true")
    others = [m for m in emu.thread(OPS_CHANNEL, card.ts) if m is not ended]
    assert not any(m.broadcast for m in others), "only the failure goes to the channel"
    assert "stopped" in others[0].text, "the progress message says the run stopped"
    assert buttons(emu.find_message(OPS_CHANNEL, card.ts)) == []
    assert len(emu.calls) - before <= 1 + 3 + 3 * len(plan.payload.phases) + 2  # + the phase chart's upload


async def test_a_429_recorded_by_one_replica_holds_the_others_calls_until_retry_after(world) -> None:
    emu, service = world.emulator, world.service
    plan, card = await planned(world)
    clock = ManualClock()
    other_process = await OpsPilot.create(service.config)  # a second replica on the same database
    try:
        first, second = replica(world, clock), replica(world, clock, other_process)
        emu.fail_next("chat.postMessage", retry_after=30, channel=OPS_CHANNEL)
        with pytest.raises(DeliveryFailed) as limited:
            await first.deliver(Delivery(event=phase_started(plan, index=0), attempt=1))
        assert limited.value.retry_after == 30

        calls = len(emu.calls)
        with pytest.raises(DeliveryFailed) as held:
            await second.deliver(Delivery(event=phase_started(plan, index=1), attempt=1))
        assert 0 < held.value.retry_after <= 30
        assert len(emu.calls) == calls, "inside the window the other replica does not call Slack at all"

        clock.advance(31)
        await second.deliver(Delivery(event=phase_started(plan, index=1), attempt=1))
        assert [c.method for c in emu.calls[calls:]] == ["chat.postMessage"]
        assert sum("Phase 2/" in m.text for m in emu.thread(OPS_CHANNEL, card.ts)) == 1
    finally:
        await other_process.close()


async def test_a_window_holds_its_method_and_channel_only(world) -> None:
    clock = ManualClock()
    limits = SharedRateLimits(world.service.queries, clock)
    await limits.hit("chat.postMessage", OPS_CHANNEL, 30)
    assert 29 < await limits.remaining("chat.postMessage", OPS_CHANNEL) <= 30
    assert await limits.remaining("chat.postMessage", "C0OTHER") == 0
    assert await limits.remaining("chat.update", OPS_CHANNEL) == 0
    await limits.hit("chat.update", "", 10)  # a method limited as a whole holds every channel
    assert await limits.remaining("chat.update", "C0OTHER") > 0
    clock.advance(31)
    assert await limits.remaining("chat.postMessage", OPS_CHANNEL) == 0


async def test_the_same_event_delivered_again_posts_once(world) -> None:
    emu = world.emulator
    plan, card = await planned(world)
    event = phase_started(plan)
    first = replica(world)
    result = await first.deliver(Delivery(event=event, attempt=1))
    again = await first.deliver(Delivery(event=event, attempt=2))
    assert again == result

    # A restart after the post but before its outcome was recorded: another process, told the attempt is unfinished.
    lookups = len(emu.calls_to("conversations.replies"))
    after_crash = await replica(world).deliver(Delivery(event=event, attempt=2, unfinished=True))
    assert after_crash == result
    assert len(emu.calls_to("conversations.replies")) == lookups + 1, "it read the thread instead of posting"
    assert sum("Phase 1/" in m.text for m in emu.thread(OPS_CHANNEL, card.ts)) == 1


async def test_a_card_posted_before_a_crash_is_found_not_posted_again(world) -> None:
    emu, service = world.emulator, world.service
    plan, card = await planned(world)
    [planned_event] = await _events(service, "task.planned")
    await service.queries.set_message_ref(plan.id, None)  # the crash came between the post and recording its place

    result = await replica(world).deliver(Delivery(event=planned_event, attempt=1, unfinished=True))
    assert result["ts"] == card.ts
    assert len([m for m in emu.messages(OPS_CHANNEL) if buttons(m)]) == 1
    assert (await service.queries.message_ref(plan.id))["ts"] == card.ts


async def test_an_update_for_a_card_never_posted_posts_the_card_first(world) -> None:
    emu, service = world.emulator, world.service
    plan, card = await planned(world)
    await service.queries.set_message_ref(plan.id, None)  # as if the card had never been posted
    started = RunStarted(task_id=plan.task_id, plan_id=plan.id, run_id="r-1", total_phases=3, total_assets=4)
    await replica(world).deliver(Delivery(event=to_cloud_event(started), attempt=1))

    ref = await service.queries.message_ref(plan.id)
    assert ref["ts"] != card.ts
    [progress] = emu.thread(OPS_CHANNEL, ref["ts"])
    assert progress.text.startswith(":rocket: Run started: 3 phases, 4 assets")
    assert ref[progress_key("r-1")] == progress.ts


async def test_slack_errors_become_retries_or_dead_letters(world) -> None:
    emu = world.emulator
    plan, _ = await planned(world)
    subscriber = replica(world)
    for error in ("channel_not_found", "not_in_channel", "is_archived", "invalid_auth"):
        emu.fail_next("chat.postMessage", error=error, status=200, retry_after=None)
        with pytest.raises(DeliveryRejected, match=error):
            await subscriber.deliver(Delivery(event=phase_started(plan), attempt=1))
    emu.fail_next("chat.postMessage", error="internal_error", status=500, retry_after=None)
    with pytest.raises(DeliveryFailed, match="internal_error"):
        await subscriber.deliver(Delivery(event=phase_started(plan), attempt=1))

    unreachable = SlackSubscriber(world.service, delivery_client(BOT_TOKEN, "http://127.0.0.1:9/api/", None))
    with pytest.raises(DeliveryFailed, match="unreachable"):
        await unreachable.deliver(Delivery(event=phase_started(plan), attempt=1))


async def test_an_ask_that_became_no_plan_is_answered_privately(world) -> None:
    from core.events import AskAnswered

    emu = world.emulator
    origin = {"front": "slack", "channel": OPS_CHANNEL, "user": REQUESTER}
    subscriber = replica(world)
    invalid = to_cloud_event(
        AskAnswered(ask_id="a-1", task_id=None, plan_id=None, outcome="invalid", message="Huh?", origin=origin)
    )
    assert subscriber.wants(invalid)
    await subscriber.deliver(Delivery(event=invalid, attempt=1))
    answer = await emu.wait_for(lambda: next((m for m in emu.ephemerals(REQUESTER) if "Huh?" in m.text), None))
    assert answer.channel == OPS_CHANNEL

    nothing = AskAnswered(ask_id="a-2", task_id=None, plan_id=None, outcome="no_change", message="No drift.", origin=origin)
    await subscriber.deliver(Delivery(event=to_cloud_event(nothing), attempt=1))
    assert any("No drift." in m.text for m in emu.messages(OPS_CHANNEL))
    plan_answer = AskAnswered(ask_id="a-3", task_id="t", plan_id="p", outcome="plan", message="", origin=origin)
    assert not subscriber.wants(to_cloud_event(plan_answer)), "a plan is answered by its card"
    assert not subscriber.wants(
        to_cloud_event(AskAnswered(ask_id="a-4", task_id=None, plan_id=None, outcome="invalid", message=""))
    )


async def _events(service: OpsPilot, event_type: str) -> list[CloudEvent]:
    from sqlalchemy import select

    from core.store.tables import outbox_events

    async with service.store.database.engine.connect() as conn:
        rows = (await conn.execute(select(outbox_events.c.envelope).where(outbox_events.c.type == event_type))).all()
    return [CloudEvent.from_json(row[0]) for row in rows]


async def test_listeners_wait_out_a_short_window_before_calling(world) -> None:
    """The request path (Bolt's listeners) honours the shared windows too: a short one is waited out."""
    import time

    from bot.playground.emulator import OUTSIDER

    emu, service = world.emulator, world.service
    _, card = await planned(world)
    await SharedRateLimits(service.queries).hit("chat.postEphemeral", OPS_CHANNEL, 1.0)
    window_ends = time.time() + 1.0
    await emu.click_button(OUTSIDER, OPS_CHANNEL, card.ts, "plan_approve")
    await emu.wait_for(lambda: next((m for m in emu.ephemerals(OUTSIDER) if "not allowed" in m.text), None))
    [call] = [c for c in emu.calls_to("chat.postEphemeral") if c.params.get("user") == OUTSIDER]
    assert call.at >= window_ends - 0.05, "the listener waited for the window to end"


async def test_a_failed_ask_is_answered_through_its_response_url(world) -> None:
    from core.events import AskAnswered

    emu = world.emulator
    url = emu.response_url(REQUESTER, OPS_CHANNEL)
    origin = {"front": "slack", "channel": OPS_CHANNEL, "user": REQUESTER, "response_url": url}
    failed = AskAnswered(
        ask_id="a-5",
        task_id=None,
        plan_id=None,
        outcome="failed",
        message="Planning failed.",
        errors=("no inventory",),
        origin=origin,
    )
    await replica(world).deliver(Delivery(event=to_cloud_event(failed), attempt=1))
    answer = await emu.wait_for(lambda: next((m for m in emu.ephemerals(REQUESTER) if "Planning failed." in m.text), None))
    assert "• no inventory" in answer.text
    assert emu.calls_to("response_url") and not emu.calls_to("chat.postEphemeral")


async def test_an_event_missing_its_data_is_dead_lettered_at_once(world) -> None:
    plan, _ = await planned(world)
    broken = phase_started(plan).model_copy(update={"data": {"task_id": plan.task_id, "plan_id": plan.id}})
    with pytest.raises(DeliveryRejected, match=r"malformed run\.phase\.started"):
        await replica(world).deliver(Delivery(event=broken, attempt=1))
