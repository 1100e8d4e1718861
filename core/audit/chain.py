"""Verify the audit log's hash chain (``opspilot audit verify``).

The walk recomputes every row's hash in ``seq`` order and reports the first row that was changed (its hash does not
match), removed (a gap in ``seq``, or the head says the chain goes on) or re-linked (its ``prev_hash`` is not the hash
of the row before it). Then it checks the head's HMAC signature with ``OPSPILOT_AUDIT_KEY``: without the key, someone
who can write to the database could re-hash the whole tail after an edit, and only the signature shows that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.store import Store
from core.store.audit_chain import GENESIS, first_unchained, hash_of_row, read_chain, read_head, signature_matches

BATCH = 1000
ProblemKind = Literal["changed", "removed", "relinked", "unchained", "head", "signature"]
SignatureState = Literal["valid", "invalid", "unsigned", "not checked"]


@dataclass(frozen=True)
class ChainProblem:
    kind: ProblemKind
    reason: str
    id: int | None = None  # audit_log.id of the first bad row, when there is one
    seq: int | None = None

    def to_document(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "seq": self.seq, "reason": self.reason}


@dataclass(frozen=True)
class ChainReport:
    rows: int  # rows checked
    head_seq: int | None
    head_hash: str | None
    signature: SignatureState
    problem: ChainProblem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def to_document(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "rows": self.rows,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "signature": self.signature,
            "problem": self.problem.to_document() if self.problem else None,
        }

    def to_text(self) -> str:
        if self.problem is not None:
            problem = self.problem
            where = "the head" if problem.seq is None else f"seq {problem.seq}"
            if problem.id is not None:
                where = f"row id {problem.id}" + ("" if problem.seq is None else f" (seq {problem.seq})")
            return f"audit chain BROKEN at {where}: {problem.reason}\n({self.rows} rows before it are intact)"
        head = f"head seq {self.head_seq}, hash {(self.head_hash or '')[:16]}…"
        signature = {
            "valid": "head signature valid",
            "unsigned": "head is UNSIGNED: set OPSPILOT_AUDIT_KEY so that rewriting history needs the key",
            "not checked": "head is signed, but its signature was not checked: OPSPILOT_AUDIT_KEY is not set",
            "invalid": "head signature INVALID",
        }[self.signature]
        return f"audit chain intact: {self.rows} rows, {head}\n{signature}"


async def verify_chain(store: Store, key: str | None) -> ChainReport:
    """Walk the whole chain; ``key`` is OPSPILOT_AUDIT_KEY (None: the signature cannot be checked)."""
    async with store.database.engine.connect() as conn:
        last_seq, last_hash, last_id, rows = 0, GENESIS, None, 0

        def report(problem: ChainProblem, head_seq: int | None = None, head_hash: str | None = None) -> ChainReport:
            return ChainReport(rows, head_seq, head_hash, "not checked", problem)

        while True:
            batch = await read_chain(conn, last_seq, BATCH)
            for row in batch:
                problem = _check_row(row, last_seq, last_hash, last_id)
                if problem is not None:
                    return report(problem)
                last_seq, last_hash, last_id, rows = row["seq"], row["row_hash"], row["id"], rows + 1
            if len(batch) == BATCH:
                continue
            # Read after the rows: every row committed before this read is covered by the head it returns.
            head = await read_head(conn)
            if head is None:
                return report(ChainProblem("head", "the audit_head row is missing"))
            if head.seq > last_seq and await read_chain(conn, last_seq, 1):
                continue  # appended while we walked
            break
        if head.seq > last_seq:
            reason = f"rows with seq {last_seq + 1}..{head.seq} are missing (removed): the head says the chain ends at {head.seq}"
            return report(ChainProblem("removed", reason, None, last_seq + 1), head.seq, head.hash)
        if head.seq < last_seq:
            extra = (await read_chain(conn, head.seq, 1))[0]
            reason = f"the row is beyond the head (seq {head.seq}): added behind the chain's back, or the head was rolled back"
            return report(ChainProblem("head", reason, extra["id"], extra["seq"]), head.seq, head.hash)
        if head.hash != last_hash:
            reason = f"the head's hash does not match the last row (seq {last_seq})"
            return report(ChainProblem("head", reason), head.seq, head.hash)
        unchained = await first_unchained(conn)
        if unchained is not None:
            reason = "the row has no place in the chain (written without seq/hash, by an older replica or by hand)"
            return report(ChainProblem("unchained", reason, unchained.id, None), head.seq, head.hash)
    signature: SignatureState
    if head.signature is None:
        signature = "unsigned"
        if key and head.seq > 0:
            reason = "the head is not signed although OPSPILOT_AUDIT_KEY is set: it was rewritten without the key"
            return ChainReport(rows, head.seq, head.hash, signature, ChainProblem("signature", reason))
    elif not key:
        signature = "not checked"
    elif signature_matches(key, head.seq, head.hash, head.signature):
        signature = "valid"
    else:
        reason = "the head's signature does not match: the chain was rewritten without the key (or the key differs)"
        return ChainReport(rows, head.seq, head.hash, "invalid", ChainProblem("signature", reason))
    return ChainReport(rows, head.seq, head.hash, signature)


def _check_row(row: Any, last_seq: int, last_hash: str, last_id: int | None) -> ChainProblem | None:
    if row["seq"] != last_seq + 1:
        missing = f"seq {last_seq + 1}" if row["seq"] == last_seq + 2 else f"seq {last_seq + 1}..{row['seq'] - 1}"
        return ChainProblem("removed", f"the row(s) before it are missing ({missing} removed)", row["id"], row["seq"])
    if row["prev_hash"] != last_hash:
        before = f"row id {last_id} (seq {last_seq})" if last_id is not None else "the start of the chain"
        reason = f"prev_hash does not match {before}: that row was changed and re-hashed, or rows were removed"
        return ChainProblem("relinked", reason, row["id"], row["seq"])
    if hash_of_row(row) != row["row_hash"]:
        return ChainProblem("changed", "the row's content was changed: its hash does not match", row["id"], row["seq"])
    return None
