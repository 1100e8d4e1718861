"""The event contract: a CloudEvents 1.0 JSON envelope per domain event (``docs/events.md``).

``type`` is the topic (``task.failed``, ``run.phase.completed`` ...). ``subject`` is the most specific id the
event is about (run, else plan, else task). ``traceparent`` (W3C trace context) is derived from the task id, so
every event of one task shares a trace. Two extension attributes carry what routing needs without opening
``data``: ``severity`` (critical | warning | info) and ``environment``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.events import Event

SPEC_VERSION = "1.0"
SOURCE = "urn:opspilot"
CONTENT_TYPE = "application/json"

Severity = Literal["critical", "warning", "info"]

# Every topic OpsPilot emits and its severity: failures and rollbacks are critical, what waits for a person
# (approvals, pauses) is a warning, the rest is information.
SEVERITY: dict[str, Severity] = {
    "task.created": "info",
    "task.planned": "info",
    "task.approval.required": "warning",
    "task.started": "info",
    "task.completed": "info",
    "task.failed": "critical",
    "plan.decided": "info",
    "plan.superseded": "info",
    "plan.vote_recorded": "info",
    "approval.expired": "warning",
    "run.phase.started": "info",
    "run.phase.completed": "info",
    "run.paused": "warning",
    "run.resumed": "info",
    "run.rolled_back": "critical",
    "environment.freeze": "warning",
    "audit.appended": "info",
    "ask.answered": "info",  # for fronts (the asker's answer); not sent to webhooks, email or NATS
}
INTERNAL_TOPICS = frozenset({"ask.answered"})
TOPICS: tuple[str, ...] = tuple(t for t in SEVERITY if t not in INTERNAL_TOPICS)  # what integrations may receive


class CloudEvent(BaseModel):
    """One event as subscribers receive it. Unknown extension attributes are kept (``extra="allow"``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    subject: str | None = None
    datacontenttype: str = CONTENT_TYPE
    data: dict[str, Any] = Field(default_factory=dict)
    traceparent: str | None = None
    severity: Severity = "info"
    environment: str | None = None

    # -- what routing and fronts read ------------------------------------------------------------

    @property
    def task_id(self) -> str | None:
        return self.data.get("task_id")

    @property
    def plan_id(self) -> str | None:
        return self.data.get("plan_id")

    @property
    def run_id(self) -> str | None:
        return self.data.get("run_id")

    @property
    def partition(self) -> str:
        """The ordering key: deliveries to one subscriber go in order within it (one task's thread)."""
        return _partition(self.data, self.id)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> CloudEvent:
        return cls.model_validate_json(text)


def severity_of(event_type: str) -> Severity:
    return SEVERITY.get(event_type, "info")


def traceparent_for(key: str, event_id: str) -> str:
    """W3C ``traceparent``: the trace id is the task's (stable), the span id the event's."""
    trace = hashlib.sha256(key.encode()).hexdigest()[:32]
    span = hashlib.sha256(event_id.encode()).hexdigest()[:16]
    return f"00-{trace}-{span}-01"


def event_data(event: Event) -> dict[str, Any]:
    """The event's fields as JSON-able data (``at`` becomes the envelope's ``time``)."""
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "at"}
    return json.loads(json.dumps(data, default=_json_default))


def to_cloud_event(event: Event, *, environment: str | None = None, event_id: str | None = None) -> CloudEvent:
    data = event_data(event)
    event_id = event_id or str(uuid.uuid4())
    subject = data.get("run_id") or data.get("plan_id") or data.get("task_id") or data.get("entity_id")
    subject = subject or data.get("environment")
    return CloudEvent(
        id=event_id,
        source=SOURCE,
        type=event.type,
        time=event.at,
        subject=subject,
        data=data,
        traceparent=traceparent_for(_partition(data, event_id), event_id),
        severity=severity_of(event.type),
        environment=environment or data.get("environment"),
    )


def _partition(data: dict[str, Any], fallback: str) -> str:
    key = data.get("task_id") or data.get("ask_id") or data.get("entity_id") or data.get("environment") or fallback
    return str(key)[:60]


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
