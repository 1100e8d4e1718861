"""IncidentAgent's tools: read logs, and line up change events against the start of the errors."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from core.errors import ToolError
from core.tools.base import ToolContext, tool
from core.tools.common import ENVIRONMENT, STRINGS, TEXT, array_of, environment_matches, inputs, outputs, source

LEVELS = ("debug", "info", "warn", "error")
_ENTRY = {"type": "object", "required": ["at", "service", "level", "message"]}
_EVENT = {"type": "object", "required": ["at", "kind", "service", "detail"]}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@tool(
    "query_logs",
    "Search log lines by services, environment and minimum level; returns the lines, counts and the most frequent messages.",
    input_schema=inputs(
        {
            "services": STRINGS,
            "environment": ENVIRONMENT,
            "min_level": {"enum": list(LEVELS)},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500},
            "since": TEXT,  # ISO 8601; lines at or after
            "until": TEXT,  # ISO 8601; lines at or before
        }
    ),
    output_schema=outputs(
        {
            "entries": array_of(_ENTRY),
            "count": {"type": "integer"},
            "by_service": {"type": "object"},
            "top_messages": array_of({"type": "object", "required": ["message", "count"]}),
            "first_at": {"type": ["string", "null"]},
            "last_at": {"type": ["string", "null"]},
            "services_known": STRINGS,
        }
    ),
    risk="read",
)
async def query_logs(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    logs = (await source(ctx, "logs"))["logs"]
    services = set(args.get("services", []))
    floor = LEVELS.index(args.get("min_level", "warn"))
    since, until = _bound(args, "since"), _bound(args, "until")
    entries = sorted(
        (
            e
            for e in logs
            if (not services or e["service"] in services)
            and LEVELS.index(e["level"]) >= floor
            and environment_matches(args.get("environment"), e.get("environment"))
            and (since is None or _time(e["at"]) >= since)
            and (until is None or _time(e["at"]) <= until)
        ),
        key=lambda e: e["at"],
    )
    counts = Counter(_shape(e["message"]) for e in entries)
    limited = entries[: args.get("limit", 200)]
    return {
        "entries": limited,
        "count": len(entries),
        "by_service": dict(Counter(e["service"] for e in entries)),
        "top_messages": [{"message": m, "count": n} for m, n in counts.most_common(5)],
        "first_at": entries[0]["at"] if entries else None,
        "last_at": entries[-1]["at"] if entries else None,
        "services_known": sorted({e["service"] for e in logs}),
        "summary": f"{len(entries)} log lines" + (f" from {entries[0]['at']} to {entries[-1]['at']}" if entries else ""),
    }


def _bound(args: dict[str, Any], key: str) -> datetime | None:
    if not args.get(key):
        return None
    try:
        moment = _time(args[key])
    except ValueError as exc:
        raise ToolError(f"query_logs: {key} is not an ISO 8601 time: {args[key]!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shape(message: str) -> str:
    return message[:160]


@tool(
    "correlate_events",
    "Rank deploys, config changes and alerts on the given services by how closely they precede the first error.",
    input_schema=inputs(
        {
            "services": {**STRINGS, "minItems": 1},
            "first_error_at": TEXT,
            "environment": ENVIRONMENT,
            "window_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
        },
        ("services", "first_error_at"),
    ),
    output_schema=outputs({"events": array_of(_EVENT), "likely_cause": {"type": ["object", "null"]}}),
    risk="read",
)
async def correlate_events(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    events = (await source(ctx, "logs"))["events"]
    start = _time(args["first_error_at"])
    window = args.get("window_minutes", 180)
    ranked = []
    for event in events:
        if event["service"] not in args["services"] or not environment_matches(args.get("environment"), event.get("environment")):
            continue
        minutes_before = (start - _time(event["at"])).total_seconds() / 60
        if minutes_before < -30 or minutes_before > window:
            continue
        # Changes shortly before the first error are the usual suspects; alerts only confirm the symptom.
        weight = {"deploy": 1.0, "config_change": 1.0, "scaling": 0.5}.get(event["kind"], 0.1)
        score = round(weight * max(0.0, 1 - max(minutes_before, 0) / window), 3) if minutes_before >= 0 else 0.0
        ranked.append({**event, "minutes_before": round(minutes_before, 1), "score": score})
    ranked.sort(key=lambda e: (-e["score"], e["at"]))
    likely = ranked[0] if ranked and ranked[0]["score"] > 0 else None
    return {
        "events": ranked,
        "likely_cause": likely,
        "summary": f"{len(ranked)} events near the first error" + (f"; most likely: {likely['detail']}" if likely else ""),
    }


TOOLS = [query_logs, correlate_events]
