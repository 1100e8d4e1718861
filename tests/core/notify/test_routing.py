"""Which events go to email (and to whom) and to webhooks, decided from the envelope alone."""

from __future__ import annotations

from core.config import NotificationRouteConfig as Route
from core.notify.notice import notice_for
from core.notify.revive import revive
from core.notify.routing import Router
from core.outbox.envelope import SEVERITY, TOPICS

from . import samples

TEAM = ["ops-team@example.com"]


def test_without_routes_email_follows_todays_triggers() -> None:
    router = Router((), TEAM, ["rolled_back", "failed"])
    assert router.email_recipients(samples.finished("rolled_back")) == TEAM
    assert router.email_recipients(samples.finished("failed")) == TEAM
    assert router.email_recipients(samples.planning_failed()) == TEAM  # a failure too
    assert router.email_recipients(samples.finished("completed")) == []
    assert router.email_recipients(samples.phase_started()) == []
    assert router.webhooks_want(samples.phase_started())  # webhooks get everything public


def test_rejected_and_approval_required_look_inside_the_event() -> None:
    router = Router((), TEAM, ["rejected", "approval_required"])
    assert router.email_recipients(samples.decided("rejected")) == TEAM
    assert router.email_recipients(samples.decided("approved")) == []
    assert router.email_recipients(samples.approval_required(True)) == TEAM
    assert router.email_recipients(samples.approval_required(False)) == []


def test_on_may_list_event_types() -> None:
    router = Router((), TEAM, ["run.paused"])
    assert router.email_recipients(samples.paused()) == TEAM
    assert "notifications.email.on includes run.paused" in router.email_reason(samples.paused())


def test_routes_match_type_environment_and_severity_and_union_their_recipients() -> None:
    routes = [
        Route(events=["run.rolled_back"], environments=["Production"], email=True, to=["oncall@example.com"]),
        Route(severities=["critical"], email=True, to=["oncall@example.com", "lead@example.com"]),
        Route(environments=["staging"], email=True),
    ]
    router = Router(routes, TEAM, ["completed"])
    assert router.email_recipients(samples.finished("rolled_back", "production")) == ["oncall@example.com", "lead@example.com"]
    assert router.email_recipients(samples.finished("rolled_back", "staging")) == [
        "oncall@example.com",
        "lead@example.com",
        *TEAM,
    ]
    assert router.email_recipients(samples.phase_started("staging")) == TEAM
    assert router.email_recipients(samples.phase_started("production")) == []
    assert router.email_recipients(samples.finished("completed", "production")) == []  # `on` no longer applies
    assert not router.webhooks_want(samples.finished("rolled_back", "production"))  # no route sends to webhooks


def test_an_event_without_environment_matches_only_routes_that_ask_for_none() -> None:
    router = Router([Route(environments=["production"], email=True, webhooks=True)], TEAM)
    assert router.email_recipients(samples.planning_failed()) == []
    assert not router.webhooks_want(samples.planning_failed())
    router = Router([Route(severities=["critical"], email=True, webhooks=True)], TEAM)
    assert router.email_recipients(samples.planning_failed()) == TEAM and router.webhooks_want(samples.planning_failed())


def test_fronts_only_events_never_leave() -> None:
    everything = Router([Route(email=True, webhooks=True)], TEAM, list(TOPICS))
    assert everything.email_recipients(samples.ask_answered()) == []
    assert not everything.webhooks_want(samples.ask_answered())
    assert "ask.answered" not in TOPICS and "ask.answered" in SEVERITY


def test_every_sample_revives_into_its_domain_event() -> None:
    for event in (samples.finished("failed"), samples.planning_failed(), samples.phase_started(), samples.paused()):
        revived = revive(event)
        assert revived is not None and revived.type == event.type and revived.at == event.time
    phase = revive(samples.phase_started())
    assert phase is not None and phase.assets == ("a",)  # lists come back as tuples


async def test_a_hand_edited_event_still_reads_as_something() -> None:
    event = samples.finished().model_copy(update={"data": {"task_id": "task-1", "run_id": "run-1", "state": 7}})
    assert revive(event) is None
    notice = await notice_for(event)
    assert notice.subject == "[OpsPilot] Run rolled back (production)"
    assert "State: 7" in notice.text and "Run id: run-1" in notice.text
