"""Delivery: the transactional outbox and its per-subscriber deliveries, idempotent intake keys, asks waiting
for a worker, REST idempotency keys and Slack rate limits shared by replicas.

Additive only: a replica of the previous version keeps working against this schema.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(200)),
        sa.Column("partition", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("environment", sa.String(40)),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outbox_events_created", "outbox_events", ["created_at"])
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_seq", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("subscriber", sa.String(80), nullable=False),
        sa.Column("partition", sa.String(100), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "subscriber", name="uq_outbox_delivery_event_subscriber"),
    )
    op.create_index("ix_outbox_deliveries_queue", "outbox_deliveries", ["subscriber", "partition", "status", "event_seq"])
    op.create_index("ix_outbox_deliveries_status", "outbox_deliveries", ["status", "updated_at"])
    op.create_table(
        "intake_keys",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("ask_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_intake_keys_created", "intake_keys", ["created_at"])
    op.create_table(
        "asks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("front", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("task_id", sa.String(36)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_asks_state", "asks", ["state", "created_at"])
    op.create_table(
        "api_idempotency",
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("scope", "route", "key", name="uq_api_idempotency_key"),
    )
    op.create_index("ix_api_idempotency_created", "api_idempotency", ["created_at"])
    op.create_table(
        "slack_rate_limits",
        sa.Column("method", sa.String(60), primary_key=True),
        sa.Column("channel", sa.String(40), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("slack_rate_limits", "api_idempotency", "asks", "intake_keys", "outbox_deliveries", "outbox_events"):
        op.drop_table(table)
