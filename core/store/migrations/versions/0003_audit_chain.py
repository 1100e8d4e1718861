"""The audit log becomes a hash chain: seq, prev_hash, row_hash on every row, and the one-row audit_head.

Rows written before this revision are hashed here, in id order, so the chain starts at the first row ever written.
The head is left unsigned: the first append made with OPSPILOT_AUDIT_KEY set signs it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.audit_chain import GENESIS, HEAD_ID, hash_of_row

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 1000

_audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("event", sa.String),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("actor", sa.String),
    sa.column("details", sa.JSON),
    sa.column("seq", sa.Integer),
    sa.column("prev_hash", sa.String),
    sa.column("row_hash", sa.String),
)


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("seq", sa.Integer))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64)))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(64)))
    op.create_index("ix_audit_actor_at", "audit_log", ["actor", "at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(64)),
    )
    seq, prev_hash = _hash_existing_rows(op.get_bind())
    op.create_index("ux_audit_seq", "audit_log", ["seq"], unique=True)
    op.bulk_insert(head, [{"id": HEAD_ID, "seq": seq, "hash": prev_hash, "signature": None}])


def _hash_existing_rows(bind: sa.Connection) -> tuple[int, str]:
    """Give every existing row its place in the chain, BATCH rows at a time; returns the last (seq, hash)."""
    seq, prev_hash, last_id = 0, GENESIS, None
    write = (
        sa.update(_audit_log)
        .where(_audit_log.c.id == sa.bindparam("row_id"))
        .values(seq=sa.bindparam("new_seq"), prev_hash=sa.bindparam("new_prev"), row_hash=sa.bindparam("new_hash"))
    )
    while True:
        query = sa.select(_audit_log).order_by(_audit_log.c.id).limit(BATCH)
        if last_id is not None:
            query = query.where(_audit_log.c.id > last_id)
        rows = bind.execute(query).mappings().all()
        if not rows:
            return seq, prev_hash
        updates = []
        for row in rows:
            seq += 1
            digest = hash_of_row({**row, "seq": seq, "prev_hash": prev_hash})
            updates.append({"row_id": row["id"], "new_seq": seq, "new_prev": prev_hash, "new_hash": digest})
            prev_hash, last_id = digest, row["id"]
        bind.execute(write, updates)


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_index("ux_audit_seq", table_name="audit_log")
    op.drop_index("ix_audit_actor_at", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
