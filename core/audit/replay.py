"""Audit replay: the timeline of a task, its plans and runs, rebuilt from the audit log alone.

Replaying the recorded transitions must land every entity in the state the store holds now;
``consistent`` says whether it does, so a tampered or incomplete log shows up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.store import AuditEntry, Store


@dataclass
class Timeline:
    task_id: str
    entries: list[AuditEntry]
    replayed_states: dict[str, str] = field(default_factory=dict)
    stored_states: dict[str, str] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        return bool(self.entries) and self.replayed_states == self.stored_states

    @property
    def mismatches(self) -> dict[str, tuple[str | None, str | None]]:
        keys = set(self.replayed_states) | set(self.stored_states)
        return {
            k: (self.replayed_states.get(k), self.stored_states.get(k))
            for k in sorted(keys)
            if self.replayed_states.get(k) != self.stored_states.get(k)
        }

    def to_document(self) -> dict:
        return {
            "task_id": self.task_id,
            "consistent": self.consistent,
            "mismatches": {k: {"replayed": a, "stored": b} for k, (a, b) in self.mismatches.items()},
            "entries": [
                {
                    "at": e.at.isoformat(),
                    "entity": f"{e.entity_type}:{e.entity_id}",
                    "event": e.event,
                    "from": e.from_state,
                    "to": e.to_state,
                    "actor": e.actor,
                    "details": e.details,
                }
                for e in self.entries
            ],
        }

    def to_text(self) -> str:
        if not self.entries:
            return f"no audit entries for task {self.task_id}"
        start = self.entries[0].at
        lines = [f"audit trail of task {self.task_id}"]
        for e in self.entries:
            offset = (e.at - start).total_seconds()
            move = f"{e.from_state or '∅'} → {e.to_state}" if e.to_state else ""
            lines.append(f"  +{offset:8.2f}s  {e.entity_type:<4} {e.entity_id[:8]}  {e.event:<26} {move:<32} by {e.actor}")
        lines.append("replay matches the stored states" if self.consistent else f"replay MISMATCH: {self.mismatches}")
        return "\n".join(lines)


async def replay(store: Store, task_id: str) -> Timeline:
    entries = await store.audit_trail(task_id)
    replayed: dict[str, str] = {}
    for entry in entries:
        if entry.to_state is not None:
            replayed[f"{entry.entity_type}:{entry.entity_id}"] = entry.to_state
    stored: dict[str, str] = {}
    if entries:
        task = await store.get_task(task_id)
        stored[f"task:{task.id}"] = task.status.state
        for plan in await store.plans_for_task(task_id):
            stored[f"plan:{plan.id}"] = plan.state
            for run in await store.runs_for_plan(plan.id, with_assets=False):
                stored[f"run:{run.id}"] = run.state
    return Timeline(task_id, entries, replayed, stored)
