"""JSON Schema validation of TaskSpec, Task, Plan and Run documents against ``schemas/``."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Literal

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from core.errors import ConfigError
from core.paths import SCHEMAS_DIR

SchemaName = Literal["task", "task-spec", "plan", "run"]


@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS_DIR.glob("*.schema.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read schema {path}: {exc}") from exc
        resource = Resource.from_contents(document)
        resources.append((path.name, resource))
        resources.append((document["$id"], resource))
    return Registry().with_resources(resources)


@cache
def validator(name: SchemaName) -> Draft202012Validator:
    resource = _registry().get_or_retrieve(f"{name}.schema.json").value
    return Draft202012Validator(resource.contents, registry=_registry())


def schema(name: SchemaName) -> dict[str, Any]:
    document = validator(name).schema
    if not isinstance(document, dict):
        raise ConfigError(f"schema {name}.schema.json must be a JSON object, got {type(document).__name__}")
    return document


def errors_for(name: SchemaName, document: Any) -> list[str]:
    """Readable messages ("payload.phases[0].wait_time: '30 minutes' does not match ...")."""
    messages = []
    for error in sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = _path(error.absolute_path)
        messages.append(f"{where}: {error.message}" if where else error.message)
    return messages


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
