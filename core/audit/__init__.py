"""The audit log, read back: a task's replayed timeline, the hash chain's verification, entries by actor."""

from core.audit.by_actor import ActorEntry, entries_by_actor
from core.audit.chain import ChainProblem, ChainReport, verify_chain
from core.audit.replay import Timeline, replay

__all__ = ["ActorEntry", "ChainProblem", "ChainReport", "Timeline", "entries_by_actor", "replay", "verify_chain"]
