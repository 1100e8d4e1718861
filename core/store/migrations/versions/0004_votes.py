"""Approval votes as rows: one per person per plan version (plan id + plan hash).

Additive only: a replica of the previous version keeps working against this schema.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_votes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("plan_id", "plan_hash", "user_id", name="uq_plan_votes_one_per_person"),
    )
    op.create_index("ix_plan_votes_plan", "plan_votes", ["plan_id", "plan_hash"])


def downgrade() -> None:
    op.drop_index("ix_plan_votes_plan", table_name="plan_votes")
    op.drop_table("plan_votes")
