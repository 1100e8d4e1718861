from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", String(100)),
    Column("created_by", String(100)),
    Column("user_intent", Text, nullable=False),
    Column("task_spec", JSON),
    Column("origin", JSON, nullable=False),
    Column("usage", JSON),
    Column("state", String(32), nullable=False),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_tasks_org_created", "org_id", "created_at"),  # a workspace's newest tasks (OAuth mode)
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("type", String(40), nullable=False),
    Column("agent", String(60)),
    Column("environment", String(20)),
    Column("payload", JSON, nullable=False),
    Column("validation", JSON),
    Column("quality", JSON),
    Column("quality_score", Integer),
    Column("approval", JSON),
    Column("message_ref", JSON),
    Column("state", String(32), nullable=False),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("plan_id", String(36), ForeignKey("plans.id"), nullable=False, index=True),
    Column("environment", String(20), nullable=False),
    Column("progress", JSON, nullable=False),
    Column("phases", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("state", String(32), nullable=False),
    Column("reason", Text),
    # Set by an abort from any replica; the worker holding the run rolls it back.
    Column("rollback_requested", Text),
    Column("started_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_runs_created", "created_at"),  # the newest runs first (/ops runs)
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("entity_type", String(20), nullable=False),
    Column("entity_id", String(36), nullable=False),
    Column("event", String(60), nullable=False),
    Column("from_state", String(32)),
    Column("to_state", String(32)),
    Column("actor", String(100), nullable=False),
    Column("details", JSON, nullable=False),
    # The hash chain (core/store/audit_chain.py): position, the previous row's hash, this row's hash.
    Column("seq", Integer),
    Column("prev_hash", String(64)),
    Column("row_hash", String(64)),
    Index("ix_audit_entity", "entity_type", "entity_id"),
    Index("ix_audit_actor_at", "actor", "at"),
    Index("ux_audit_seq", "seq", unique=True),
)

# One row (id 1): the end of the audit chain, signed with OPSPILOT_AUDIT_KEY when that is set.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", String(64)),
)

asset_versions = Table(
    "asset_versions",
    metadata,
    Column("asset_id", String(100), primary_key=True),
    Column("image", String(100), nullable=False),
    Column("image_version", String(60), nullable=False),
    Column("run_id", String(36)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

llm_usage = Table(
    "llm_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
)

# Durable work (see docs/engine.md): one row per piece of work that must survive a crash and be done by exactly
# one worker at a time. ``fence`` is bumped on every claim; every write of claimed work checks it.
work_items = Table(
    "work_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("state", String(16), nullable=False),  # pending | done
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("fence", Integer, nullable=False, default=0),
    Column("attempt", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "subject", name="uq_work_kind_subject"),
    Index("ix_work_due", "kind", "state", "due_at"),
)

# One row per (run, asset or step): the per-asset state of a rollout, written in batches.
run_assets = Table(
    "run_assets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), ForeignKey("runs.id"), nullable=False),
    Column("phase_index", Integer, nullable=False),
    Column("asset_id", String(200), nullable=False),
    Column("kind", String(10), nullable=False),  # asset | step
    Column("status", String(16), nullable=False),  # pending | running | succeeded | failed | rolled_back
    Column("attempt", Integer, nullable=False, default=0),
    Column("idempotency_key", String(64)),
    Column("previous", Text),
    Column("current", Text),
    Column("error", Text),
    Column("output", Text),
    Column("revert_attempt", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    UniqueConstraint("run_id", "asset_id", name="uq_run_assets_run_asset"),
    Index("ix_run_assets_phase", "run_id", "phase_index", "status"),
)

# Approval votes: one per person per plan version (the plan hash); the vote completing the quorum starts the run.
plan_votes = Table(
    "plan_votes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", String(36), ForeignKey("plans.id"), nullable=False),
    Column("plan_hash", String(64), nullable=False),
    Column("user_id", String(100), nullable=False),
    Column("decision", String(10), nullable=False),  # approve | reject
    Column("reason", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("plan_id", "plan_hash", "user_id", name="uq_plan_votes_one_per_person"),
    Index("ix_plan_votes_plan", "plan_id", "plan_hash"),
)

# One row per frozen environment (``/ops freeze``): votes there are refused, runs there do not start or go on.
freezes = Table(
    "freezes",
    metadata,
    Column("environment", String(40), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# -- delivery (migration 0006) -------------------------------------------------------------------

# The transactional outbox: one row per domain event, inserted in the transaction of the state change that
# caused it. ``envelope`` is the CloudEvents 1.0 JSON document subscribers receive.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("type", String(60), nullable=False),
    Column("subject", String(200)),
    Column("partition", String(100), nullable=False),  # ordering key: deliveries of one partition go in seq order
    Column("severity", String(10), nullable=False),
    Column("environment", String(40)),
    Column("envelope", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_outbox_events_created", "created_at"),
)

# One row per (event, subscriber): delivered, still pending (with its next due time), or dead-lettered.
outbox_deliveries = Table(
    "outbox_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_seq", Integer, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("subscriber", String(80), nullable=False),
    Column("partition", String(100), nullable=False),
    Column("status", String(12), nullable=False),  # pending | delivered | dead
    Column("attempt", Integer, nullable=False, default=0),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),  # set before an attempt; an unfinished one is checked before repeating
    Column("last_error", Text),
    Column("result", Text),  # JSON the subscriber returned (a Slack ts, refused recipients)
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("event_id", "subscriber", name="uq_outbox_delivery_event_subscriber"),
    Index("ix_outbox_deliveries_queue", "subscriber", "partition", "status", "event_seq"),
    Index("ix_outbox_deliveries_status", "status", "updated_at"),
)

# Idempotent intake: one row per delivery key (Slack event_id, or a key derived from a command / interaction).
intake_keys = Table(
    "intake_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("source", String(20), nullable=False),  # slack_event | slack_command | slack_action | ...
    Column("ask_id", String(36)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_intake_keys_created", "created_at"),
)

# Asks recorded by a front and planned by a worker (durable work of kind "ask").
asks = Table(
    "asks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("front", String(20), nullable=False),
    Column("payload", Text, nullable=False),  # JSON: the Ask and where to answer
    Column("state", String(12), nullable=False),  # pending | done | failed
    Column("task_id", String(36)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_asks_state", "state", "created_at"),
)

# REST ``Idempotency-Key``: scoped per token and route, kept 24 h; the first answer is replayed.
api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("scope", String(100), nullable=False),  # the token's id (never the token)
    Column("route", String(200), nullable=False),
    Column("key", String(255), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("state", String(12), nullable=False),  # in_progress | done
    Column("status_code", Integer),
    Column("response", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("scope", "route", "key", name="uq_api_idempotency_key"),
    Index("ix_api_idempotency_created", "created_at"),
)

# Slack rate limits shared by replicas: a 429's Retry-After stops calls to ``method`` for ``channel`` until then.
slack_rate_limits = Table(
    "slack_rate_limits",
    metadata,
    Column("method", String(60), primary_key=True),
    Column("channel", String(40), primary_key=True),  # "" when the method is limited workspace-wide
    Column("until", DateTime(timezone=True), nullable=False),
)

# Slack OAuth mode (migration 0008): one row per workspace (or org) and installing user, and the latest bot of each
# workspace. Key columns hold "" for "none" (unique constraints and NULL do not mix); every token column is sealed
# with OPSPILOT_TOKEN_KEY (core/token_crypto.py), never stored in clear.
slack_installations = Table(
    "slack_installations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False),
    Column("app_id", String(32)),
    Column("enterprise_id", String(32), nullable=False),  # "" when none
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(300)),
    Column("team_id", String(32), nullable=False),  # "" for an org-wide (enterprise) install
    Column("team_name", String(200)),
    Column("bot_token", Text),  # sealed
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", Text),
    Column("bot_refresh_token", Text),  # sealed
    Column("bot_token_expires_at", DateTime(timezone=True)),
    Column("user_id", String(32), nullable=False),
    Column("user_token", Text),  # sealed
    Column("user_scopes", Text),
    Column("user_refresh_token", Text),  # sealed
    Column("user_token_expires_at", DateTime(timezone=True)),
    Column("incoming_webhook_url", Text),  # sealed: the URL is a credential
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(32)),
    Column("incoming_webhook_configuration_url", Text),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("client_id", "enterprise_id", "team_id", "user_id", name="uq_slack_installation"),
)

slack_bots = Table(
    "slack_bots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False),
    Column("app_id", String(32)),
    Column("enterprise_id", String(32), nullable=False),  # "" when none
    Column("enterprise_name", String(200)),
    Column("team_id", String(32), nullable=False),  # "" for an org-wide install
    Column("team_name", String(200)),
    Column("bot_token", Text, nullable=False),  # sealed
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", Text),
    Column("bot_refresh_token", Text),  # sealed
    Column("bot_token_expires_at", DateTime(timezone=True)),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("installed_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("client_id", "enterprise_id", "team_id", name="uq_slack_bot"),
)

# OAuth ``state`` values issued by /slack/install: consumed at most once (a compare-and-set on consumed_at), by any
# replica. Only the state's SHA-256 is kept.
slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("consumed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_slack_oauth_states_expires", "expires_at"),
)
