"""Slack OAuth mode: installations, bots and OAuth states in OpsPilot's own database (tokens sealed at rest).

Additive only: a replica of the previous version keeps working against this schema.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(32)),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("enterprise_url", sa.String(300)),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.Text),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.Text),
        sa.Column("bot_refresh_token", sa.Text),
        sa.Column("bot_token_expires_at", sa.DateTime(timezone=True)),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("user_token", sa.Text),
        sa.Column("user_scopes", sa.Text),
        sa.Column("user_refresh_token", sa.Text),
        sa.Column("user_token_expires_at", sa.DateTime(timezone=True)),
        sa.Column("incoming_webhook_url", sa.Text),
        sa.Column("incoming_webhook_channel", sa.String(200)),
        sa.Column("incoming_webhook_channel_id", sa.String(32)),
        sa.Column("incoming_webhook_configuration_url", sa.Text),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("token_type", sa.String(32)),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "enterprise_id", "team_id", "user_id", name="uq_slack_installation"),
    )
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(32)),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.Text, nullable=False),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.Text),
        sa.Column("bot_refresh_token", sa.Text),
        sa.Column("bot_token_expires_at", sa.DateTime(timezone=True)),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "enterprise_id", "team_id", name="uq_slack_bot"),
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_oauth_states_expires", "slack_oauth_states", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_oauth_states_expires", table_name="slack_oauth_states")
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_bots")
    op.drop_table("slack_installations")
