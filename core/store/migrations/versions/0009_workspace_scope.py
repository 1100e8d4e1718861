"""Workspaces (OAuth mode): an index on tasks (org_id, created_at), so a workspace's newest tasks and runs are read
without scanning the others'. ``tasks.org_id`` holds the workspace's team ID in OAuth mode (core/workspaces.py).

Additive only: a replica of the previous version keeps working against this schema.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_org_created", "tasks", ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_org_created", table_name="tasks")
