"""Who did what, across tasks and plans: the audit entries of one actor (``opspilot audit --actor U… --since 7d``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.store import AuditEntry, Store
from core.timeutil import isoformat, utcnow

DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class ActorEntry:
    entry: AuditEntry
    task_id: str | None  # the task the entity belongs to, when the store still has it
    plan_summary: str | None

    def to_document(self) -> dict[str, Any]:
        e = self.entry
        return {
            "id": e.id,
            "seq": e.seq,
            "at": isoformat(e.at),
            "actor": e.actor,
            "event": e.event,
            "entity": f"{e.entity_type}:{e.entity_id}",
            "from": e.from_state,
            "to": e.to_state,
            "task_id": self.task_id,
            "plan_summary": self.plan_summary,
            "details": e.details,
        }


@dataclass(frozen=True)
class ActorReport:
    actor: str
    since: datetime | None
    entries: list[ActorEntry]
    limit: int = DEFAULT_LIMIT

    @property
    def truncated(self) -> bool:
        return len(self.entries) >= self.limit

    def to_document(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "since": isoformat(self.since) if self.since else None,
            "truncated": self.truncated,
            "entries": [e.to_document() for e in self.entries],
        }

    def to_text(self) -> str:
        window = f" since {isoformat(self.since)}" if self.since else ""
        if not self.entries:
            return f"no audit entries by {self.actor}{window}"
        lines = [f"audit entries by {self.actor}{window}" + (f" (newest {self.limit})" if self.truncated else "")]
        for item in self.entries:
            e = item.entry
            task = f"task {item.task_id[:8]}" if item.task_id and e.entity_type != "task" else ""
            summary = f"  {item.plan_summary[:60]}" if item.plan_summary else ""
            lines.append(f"  {isoformat(e.at)}  {e.event:<26} {e.entity_type:<4} {e.entity_id[:8]}  {task}{summary}")
        return "\n".join(lines)


def since_ago(seconds: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(seconds=seconds)


async def entries_by_actor(store: Store, actor: str, since: datetime | None, limit: int = DEFAULT_LIMIT) -> ActorReport:
    """``actor``'s entries since ``since`` (all time when None), oldest first, with each one's task and plan summary."""
    entries = await store.audit_by_actor(actor, since, limit)
    context = await store.audit_context(entries)
    items = [ActorEntry(e, *context.get(e.entity_id, (None, None))) for e in entries]
    return ActorReport(actor, since, items, limit)
