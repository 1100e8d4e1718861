"""Recent runs: an index on runs.created_at, so ``/ops runs`` and ``/ops status`` (no id) read the newest runs
without sorting them all.

Additive only: a replica of the previous version keeps working against this schema.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_created", "runs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_created", table_name="runs")
