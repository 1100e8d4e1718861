"""The audit log's hash chain: canonical row hashes, the signed head, and the one way rows are appended.

Every audit row carries ``seq`` (1, 2, 3, … with no gaps), ``prev_hash`` (the ``row_hash`` of the row before it,
:data:`GENESIS` for the first) and ``row_hash`` = SHA-256 over the canonical JSON of its content plus ``prev_hash``.
The one-row ``audit_head`` table holds the last ``seq`` and ``hash`` and, when a key is set, an HMAC-SHA256 signature
of ``f"{seq}:{hash}"``. An append updates the head row first (``UPDATE … RETURNING``: a row lock on PostgreSQL, the
write lock on SQLite), so appends are serialized across processes and replicas, and the row and the new head commit
together with the caller's transaction.

The format is stored: changing :func:`row_hash` would break every existing chain (migration 0003 uses it too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import OpsPilotError
from core.store import tables

GENESIS = "0" * 64
HEAD_ID = 1


def canonical_time(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds; a naive time (SQLite hands those back) is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """The details as they will read back from the JSON column (tuples become lists, keys become strings)."""
    return json.loads(json.dumps(details or {}))


def row_hash(
    *,
    seq: int,
    at: datetime,
    entity_type: str,
    entity_id: str,
    event: str,
    from_state: str | None,
    to_state: str | None,
    actor: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    content = {
        "seq": seq,
        "at": canonical_time(at),
        "entity_type": entity_type,
        "entity_id": entity_id,
        "event": event,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor,
        "details": details,
        "prev_hash": prev_hash,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: The columns a row's hash covers (besides the hash itself).
CONTENT_FIELDS = ("seq", "at", "entity_type", "entity_id", "event", "from_state", "to_state", "actor", "details", "prev_hash")


def hash_of_row(row: Any) -> str:
    """``row_hash`` recomputed from a stored row (a mapping with the audit_log columns)."""
    content = {name: row[name] for name in CONTENT_FIELDS}
    return row_hash(**{**content, "details": content["details"] or {}})


def sign_head(key: str, seq: int, head_hash: str) -> str:
    return hmac.new(key.encode("utf-8"), f"{seq}:{head_hash}".encode(), hashlib.sha256).hexdigest()


def signature_matches(key: str, seq: int, head_hash: str, signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign_head(key, seq, head_hash), signature)


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    signature: str | None


async def append(
    conn: AsyncConnection,
    *,
    at: datetime,
    entity_type: str,
    entity_id: str,
    event: str,
    from_state: str | None,
    to_state: str | None,
    actor: str,
    details: dict[str, Any],
    key: str | None,
) -> int:
    """Append one row to the chain inside the caller's transaction; returns its ``seq``. Holds the head's lock
    until that transaction ends."""
    head = tables.audit_head
    claimed = (
        await conn.execute(update(head).where(head.c.id == HEAD_ID).values(seq=head.c.seq + 1).returning(head.c.seq, head.c.hash))
    ).first()
    if claimed is None:
        raise OpsPilotError("the audit_head row is missing: the audit chain cannot be extended (run `opspilot db upgrade`)")
    seq, prev_hash = int(claimed.seq), str(claimed.hash)
    content: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "event": event,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor,
        "details": details,
        "prev_hash": prev_hash,
    }
    digest = row_hash(**content)
    await conn.execute(tables.audit_log.insert().values(**content, row_hash=digest))
    signature = sign_head(key, seq, digest) if key else None
    await conn.execute(update(head).where(head.c.id == HEAD_ID).values(hash=digest, signature=signature))
    return seq


async def read_head(conn: AsyncConnection) -> Head | None:
    head = tables.audit_head
    row = (await conn.execute(select(head.c.seq, head.c.hash, head.c.signature).where(head.c.id == HEAD_ID))).first()
    return None if row is None else Head(int(row.seq), str(row.hash), row.signature)


async def read_chain(conn: AsyncConnection, after_seq: int, limit: int) -> list[Any]:
    """Up to ``limit`` chained rows with ``seq`` above ``after_seq``, in chain order."""
    log = tables.audit_log
    query = select(log).where(log.c.seq.is_not(None), log.c.seq > after_seq).order_by(log.c.seq).limit(limit)
    return list((await conn.execute(query)).mappings().all())


async def first_unchained(conn: AsyncConnection) -> Any | None:
    """The oldest row written without a place in the chain (by a replica that predates it, or by hand)."""
    log = tables.audit_log
    query = select(log.c.id).where(log.c.seq.is_(None) | log.c.row_hash.is_(None)).order_by(log.c.id).limit(1)
    return (await conn.execute(query)).first()
