"""What the report agents share: the time window a report examined, its error timeline, and evidence lines.

A report's ``payload.report`` (:class:`core.domain.plan.ReportScope`) says what was looked at: the window, the sources
in words, and for an incident the errors and warnings per slice of the window plus the changes made in it. Everything
here comes from tool results; nothing is invented.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_EVIDENCE = 5  # lines of evidence kept per finding
EVIDENCE_CHARS = 200
# Bucket widths for an incident timeline, in minutes: the smallest that gives at most MAX_BUCKETS bars.
BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
MAX_BUCKETS = 24
TIMELINE_KINDS = ("deploy", "config_change", "restart", "scaling", "rollback")  # changes, not symptoms (alerts)


def moment(text: str) -> datetime:
    """An ISO 8601 time from a tool result, in UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def month_window(month: str) -> tuple[str, str] | None:
    """A billing month ``YYYY-MM`` as [first day, first day of the next month), or None when it is not one."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        return None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return iso(start), iso(end)


def clip(text: str, limit: int = EVIDENCE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evidence(lines: Iterable[str], limit: int = MAX_EVIDENCE) -> list[str]:
    """At most ``limit`` distinct lines, clipped, in order."""
    kept: list[str] = []
    for raw in lines:
        line = clip(raw)
        if line and line not in kept:
            kept.append(line)
        if len(kept) == limit:
            break
    return kept


def log_line(entry: dict[str, Any]) -> str:
    """A log line as evidence: ``2024-06-11T14:01:12Z api-prod-003 error: POST /cart/checkout 500: …``."""
    where = f" {entry['asset']}" if entry.get("asset") else ""
    return f"{entry['at']}{where} {entry['level']}: {entry['message']}"


def bucket_minutes(span: timedelta) -> int:
    minutes = max(span.total_seconds() / 60, 1)
    return next((m for m in BUCKET_MINUTES if math.ceil(minutes / m) <= MAX_BUCKETS), BUCKET_MINUTES[-1])


def timeline(entries: Sequence[dict[str, Any]], start: datetime, end: datetime) -> tuple[list[dict[str, Any]], datetime]:
    """Errors and warnings per bucket from ``start`` (floored to the bucket width) to ``end``: every bucket, empty ones
    too, so a chart's bars stand at their times. Also the floored start, the window's real beginning."""
    width = bucket_minutes(end - start)
    step = timedelta(minutes=width)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    first = epoch + step * ((start - epoch) // step)
    count = max(1, math.ceil((end - first) / step) if end > first else 1)
    if first + step * count <= end:
        count += 1
    errors, warnings = [0] * count, [0] * count
    for entry in entries:
        index = int((moment(entry["at"]) - first) // step)
        if 0 <= index < count:
            if entry["level"] == "error":
                errors[index] += 1
            elif entry["level"] == "warn":
                warnings[index] += 1
    buckets = [{"at": iso(first + step * i), "errors": errors[i], "warnings": warnings[i]} for i in range(count)]
    return buckets, first


def timeline_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes among correlated events (deploys, config changes, ...), oldest first."""
    kept = [
        {"at": e["at"], "kind": e["kind"], "detail": e["detail"], **({"service": e["service"]} if e.get("service") else {})}
        for e in events
        if e.get("kind") in TIMELINE_KINDS
    ]
    return sorted(kept, key=lambda e: e["at"])
