"""docs/events.md holds one valid CloudEvents example per topic, with the data fields the event really carries."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from core import events
from core.outbox import SEVERITY, CloudEvent

DOC = Path(__file__).resolve().parents[1] / "docs" / "events.md"


def examples() -> dict[str, dict]:
    text = DOC.read_text()
    found = {}
    for title, body in re.findall(r"^### (.+?)\n\n```json\n(.*?)\n```", text, flags=re.S | re.M):
        found[title.strip()] = json.loads(body)
    return found


def fields_by_type() -> dict[str, set[str]]:
    classes = [c for c in vars(events).values() if isinstance(c, type) and issubclass(c, events.Event) and c is not events.Event]
    by_type: dict[str, set[str]] = {}
    for cls in classes:
        if not dataclasses.is_dataclass(cls) or cls.topic == events.Event.topic:
            continue
        names = {f.name for f in dataclasses.fields(cls)} - {"at"}
        types = {"task.completed", "task.failed", "run.rolled_back"} if cls is events.RunFinished else {cls.topic}
        for name in types:
            by_type.setdefault(name, set()).update(names)
    return by_type


def test_every_topic_has_an_example_that_is_a_valid_cloudevent_of_its_type_and_severity() -> None:
    found = examples()
    for topic, severity in SEVERITY.items():
        assert topic in found, f"docs/events.md has no example for {topic}"
        event = CloudEvent.model_validate(found[topic])
        assert event.type == topic and event.severity == severity and event.specversion == "1.0"
        assert event.traceparent and re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", event.traceparent)


def test_example_data_carries_exactly_the_fields_of_the_event() -> None:
    by_type = fields_by_type()
    for title, document in examples().items():
        topic = title.split(" ")[0]
        expected = by_type[topic]
        if topic == "task.failed" and "run_id" not in document["data"]:
            expected = {f.name for f in dataclasses.fields(events.TaskFailed)} - {"at"}
        elif topic == "task.failed":
            expected = {f.name for f in dataclasses.fields(events.RunFinished)} - {"at"}
        assert set(document["data"]) == expected, title
