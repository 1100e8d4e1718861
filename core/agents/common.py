"""Wording shared by the agents."""

from __future__ import annotations

from typing import Any

from core.domain import TaskSpec

LEVEL_WORD = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}


def describe_scope(spec: TaskSpec) -> str:
    scope = spec.context.scope
    words = [spec.environment if spec.environment != "all" else "all environments"]
    if scope.roles:
        words.append("/".join(scope.roles))
    where = [*scope.platforms, *scope.regions]
    text = " ".join(words)
    return f"{text} ({', '.join(where)})" if where else text


def asset_query(spec: TaskSpec, **extra: Any) -> dict[str, Any]:
    scope = spec.context.scope
    query = {
        "environment": spec.environment,
        "roles": scope.roles,
        "platforms": scope.platforms,
        "regions": scope.regions,
        "asset_ids": scope.asset_ids,
    }
    return {**{k: v for k, v in query.items() if v}, **extra}


def listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def parameter_list(spec: TaskSpec, plural: str, singular: str) -> list[str]:
    params = spec.context.parameters
    values = params.get(plural) or ([params[singular]] if params.get(singular) else [])
    return [str(v) for v in values] if isinstance(values, list) else [str(values)]
