"""Domain events and the in-process bus that carries them to fronts and notifiers.

The core publishes; the Slack front (thread updates, card rewrites), notifiers and metrics
subscribe. Handlers run in subscription order and one failing handler never stops the others
or the core: delivery problems are logged, not raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from core.timeutil import utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    topic: ClassVar[str] = "event"
    at: datetime = field(default_factory=utcnow)

    @property
    def type(self) -> str:
        """The CloudEvents ``type`` (``docs/events.md``): the topic, unless the event's outcome picks another."""
        return self.topic


@dataclass(frozen=True, kw_only=True)
class TaskCreated(Event):
    topic: ClassVar[str] = "task.created"
    task_id: str
    user_intent: str
    origin: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class AskAnswered(Event):
    """A worker finished planning an ask a front recorded. Fronts answer the asker from it: a plan's card is posted
    on ``task.planned``; the other outcomes (``invalid``, ``failed``, ``no_change``) are answered from this event.
    ``origin`` is the ask's (front, channel, user, response_url ...)."""

    topic: ClassVar[str] = "ask.answered"
    ask_id: str
    task_id: str | None
    plan_id: str | None
    outcome: str  # plan | no_change | invalid | failed
    message: str
    errors: tuple[str, ...] = ()
    origin: dict[str, Any] = field(default_factory=dict)
    # An unclear ask (outcome invalid): the readings to offer, each {agent, label, text}; a front shows them as buttons.
    choices: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class TaskPlanned(Event):
    """A plan exists for the task (whether or not it needs a decision)."""

    topic: ClassVar[str] = "task.planned"
    task_id: str
    plan_id: str
    environment: str | None
    agent: str | None
    requires_approval: bool
    risk_level: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskFailed(Event):
    """Planning failed: the ask could not become a valid plan (a run that fails sends RunFinished instead)."""

    topic: ClassVar[str] = "task.failed"
    task_id: str
    reason: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PlanProposed(Event):
    topic: ClassVar[str] = "task.approval.required"
    task_id: str
    plan_id: str
    requires_approval: bool


@dataclass(frozen=True, kw_only=True)
class PlanSuperseded(Event):
    """A newer plan for the same task replaced this one; votes on it no longer count."""

    topic: ClassVar[str] = "plan.superseded"
    task_id: str
    plan_id: str
    superseded_by: str


@dataclass(frozen=True, kw_only=True)
class PlanDecided(Event):
    topic: ClassVar[str] = "plan.decided"
    task_id: str
    plan_id: str
    decision: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class VoteRecorded(Event):
    """A vote that counted, before the quorum (the vote completing it publishes PlanDecided as well)."""

    topic: ClassVar[str] = "plan.vote_recorded"
    task_id: str
    plan_id: str
    actor: str
    decision: str  # approve | reject
    votes: int
    required: int


@dataclass(frozen=True, kw_only=True)
class ApprovalExpired(Event):
    """A plan waited longer than its rule's ``ttl``: rejected (``on_expiry: reject``), or still waiting and its
    approvers reminded (``renotify``)."""

    topic: ClassVar[str] = "approval.expired"
    task_id: str
    plan_id: str
    environment: str | None
    ttl_seconds: float
    renotify: bool = False


@dataclass(frozen=True, kw_only=True)
class FreezeChanged(Event):
    """An environment was frozen (``reason`` set) or unfrozen (``reason`` None)."""

    topic: ClassVar[str] = "environment.freeze"
    environment: str
    actor: str
    reason: str | None
    workspace: str | None = None  # OAuth mode: the team whose environment it is (None: the only workspace)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    topic: ClassVar[str] = "task.started"
    task_id: str
    plan_id: str
    run_id: str
    total_phases: int
    total_assets: int


@dataclass(frozen=True, kw_only=True)
class PhaseStarted(Event):
    topic: ClassVar[str] = "run.phase.started"
    task_id: str
    plan_id: str
    run_id: str
    index: int
    name: str
    total_phases: int
    assets: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PhaseCompleted(Event):
    topic: ClassVar[str] = "run.phase.completed"
    task_id: str
    plan_id: str
    run_id: str
    index: int
    name: str
    total_phases: int
    assets_changed: int
    health: dict[str, float]
    next_wait_seconds: float | None
    # From the phase's rows: ok / changed / failed / unreachable host counts, and "host: error" of failed hosts
    # (within executor.max_failures), at most PHASE_FAILURE_LINES.
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RunControlled(Event):
    """A person (or OpsPilot, waiting for one) paused or resumed a run."""

    task_id: str
    plan_id: str
    run_id: str
    actor: str
    phases_completed: int
    total_phases: int


@dataclass(frozen=True, kw_only=True)
class RunPaused(RunControlled):
    topic: ClassVar[str] = "run.paused"
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunResumed(RunControlled):
    topic: ClassVar[str] = "run.resumed"


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run ended: ``task.completed``, ``task.failed`` or ``run.rolled_back`` by its state."""

    topic: ClassVar[str] = "task.completed"
    task_id: str
    plan_id: str
    run_id: str
    state: str  # completed | rolled_back | failed
    reason: str | None
    assets_changed: int
    assets_rolled_back: int
    phases_completed: int
    total_phases: int
    duration_seconds: float

    @property
    def type(self) -> str:
        return {"failed": "task.failed", "rolled_back": "run.rolled_back"}.get(self.state, "task.completed")


@dataclass(frozen=True, kw_only=True)
class AuditAppended(Event):
    topic: ClassVar[str] = "audit.appended"
    entity_type: str
    entity_id: str
    event: str
    actor: str
    details: dict[str, Any]


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[tuple[type[Event], ...], Handler]] = []

    def subscribe(self, handler: Handler, *types: type[Event]) -> Callable[[], None]:
        """Call ``handler`` for events of ``types`` (all events if none given); returns an unsubscribe."""
        entry = (types or (Event,), handler)
        self._handlers.append(entry)
        return lambda: self._handlers.remove(entry)

    async def publish(self, event: Event) -> None:
        for types, handler in list(self._handlers):
            if not isinstance(event, types):
                continue
            try:
                await handler(event)
            except Exception:
                logger.exception("event handler %r failed on %s", handler, event.topic)
