"""Tasks, plans, runs, audit log, applied asset versions, LLM usage.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_id", sa.String(100)),
        sa.Column("created_by", sa.String(100)),
        sa.Column("user_intent", sa.Text, nullable=False),
        sa.Column("task_spec", sa.JSON),
        sa.Column("origin", sa.JSON, nullable=False),
        sa.Column("usage", sa.JSON),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("task_id", sa.String(36), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("agent", sa.String(60)),
        sa.Column("environment", sa.String(20)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("validation", sa.JSON),
        sa.Column("quality", sa.JSON),
        sa.Column("quality_score", sa.Integer),
        sa.Column("approval", sa.JSON),
        sa.Column("message_ref", sa.JSON),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_plans_task_id", "plans", ["task_id"])
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("phases", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text),
        _ts("started_at", nullable=True),
        _ts("completed_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_runs_plan_id", "runs", ["plan_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _ts("at"),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32)),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_entity", "audit_log", ["entity_type", "entity_id"])
    op.create_table(
        "asset_versions",
        sa.Column("asset_id", sa.String(100), primary_key=True),
        sa.Column("image", sa.String(100), nullable=False),
        sa.Column("image_version", sa.String(60), nullable=False),
        sa.Column("run_id", sa.String(36)),
        _ts("updated_at"),
    )
    op.create_table(
        "llm_usage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(100), nullable=False),
        _ts("at"),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
    )
    op.create_index("ix_llm_usage_at", "llm_usage", ["at"])


def downgrade() -> None:
    for table in ("llm_usage", "asset_versions", "audit_log", "runs", "plans", "tasks"):
        op.drop_table(table)
