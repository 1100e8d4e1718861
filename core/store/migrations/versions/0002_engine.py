"""The rollout engine: durable work items (leases), per-asset run state, abort requests.

Additive only: a replica of the previous version keeps working against this schema.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("due_at", nullable=False),
        sa.Column("owner", sa.String(100)),
        _ts("lease_until"),
        sa.Column("fence", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.UniqueConstraint("kind", "subject", name="uq_work_kind_subject"),
    )
    op.create_index("ix_work_due", "work_items", ["kind", "state", "due_at"])
    op.create_table(
        "run_assets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("phase_index", sa.Integer, nullable=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("idempotency_key", sa.String(64)),
        sa.Column("previous", sa.Text),
        sa.Column("current", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("output", sa.Text),
        sa.Column("revert_attempt", sa.Integer, nullable=False, server_default="0"),
        _ts("started_at"),
        _ts("ended_at"),
        sa.UniqueConstraint("run_id", "asset_id", name="uq_run_assets_run_asset"),
    )
    op.create_index("ix_run_assets_phase", "run_assets", ["run_id", "phase_index", "status"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("rollback_requested", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("rollback_requested")
    op.drop_index("ix_run_assets_phase", table_name="run_assets")
    op.drop_table("run_assets")
    op.drop_index("ix_work_due", table_name="work_items")
    op.drop_table("work_items")
