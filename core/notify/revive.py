"""The domain event an envelope was made from: ``data`` holds the event's fields, ``time`` its ``at``.

Notifiers describe events in words (:mod:`core.notify.notice`) from the typed domain events; the outbox hands them
envelopes. ``revive`` rebuilds the event (lists back into tuples), or returns None for a type no event class has
or data that does not fit one (a hand-edited row): the caller then says what the envelope itself carries.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import types
import typing
from typing import Any

from core import events as domain
from core.events import Event
from core.outbox.envelope import CloudEvent

logger = logging.getLogger(__name__)


def _subclasses(cls: type[Event]) -> list[type[Event]]:
    found: list[type[Event]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


@functools.cache
def _classes_by_type() -> dict[str, list[type[Event]]]:
    by_type: dict[str, list[type[Event]]] = {}
    for cls in _subclasses(Event):
        if "topic" in cls.__dict__:
            by_type.setdefault(cls.topic, []).append(cls)
    # A finished run is task.completed, task.failed or run.rolled_back by its state.
    for event_type in ("task.failed", "run.rolled_back"):
        by_type.setdefault(event_type, []).insert(0, domain.RunFinished)
    return by_type


_HINTS: dict[type[Event], dict[str, Any]] = {}


def _hints(cls: type[Event]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(domain))
    return _HINTS[cls]


def _is_tuple(hint: Any) -> bool:
    if typing.get_origin(hint) is tuple:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_tuple(arg) for arg in typing.get_args(hint))
    return False


def revive(event: CloudEvent) -> Event | None:
    """The domain event behind ``event``, or None when no event class fits its type and data."""
    for cls in _classes_by_type().get(event.type, []):
        fields = [f for f in dataclasses.fields(cls) if f.init and f.name != "at"]
        required = {f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        if not required <= event.data.keys():
            continue
        hints = _hints(cls)
        kwargs: dict[str, Any] = {}
        for f in fields:
            if f.name in event.data:
                value = event.data[f.name]
                kwargs[f.name] = tuple(value) if isinstance(value, list) and _is_tuple(hints.get(f.name)) else value
        try:
            revived = cls(at=event.time, **kwargs)
        except (TypeError, ValueError) as exc:
            logger.info("event %s (%s) does not fit %s: %s", event.id, event.type, cls.__name__, exc)
            continue
        if revived.type == event.type:
            return revived
    return None
