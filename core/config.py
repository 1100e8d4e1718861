"""Configuration: a YAML file (``OPSPILOT_CONFIG``) plus environment variables for secrets and URLs.

Relative paths in the file are resolved against the file's own folder. Secrets never come from the
YAML file and are held as ``SecretStr`` so they do not show up in reprs or logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from core.approvals.rules import ApprovalsConfig, People, RequesterRule
from core.errors import ConfigError
from core.paths import SAMPLE_DATA_DIR
from core.timeutil import Duration
from core.workspaces import check_team_ids

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///opspilot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_SLACK_AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
OAUTH_VARIABLES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET", "OPSPILOT_TOKEN_KEY")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


KnownEnvironment = Literal["production", "staging", "development"]


def _default_environment_names() -> dict[KnownEnvironment, list[str]]:
    return {"production": ["prod", "prd", "live"], "staging": ["stg", "stage"], "development": ["dev", "sandbox"]}


class AnsibleMappingConfig(_Section):
    """Asset field -> the Ansible variable (host or group var, or a ``<var>_<value>`` group name) it comes from."""

    environment: str = "env"
    role: str = "role"
    platform: str = "platform"
    region: str = "region"
    tags: str = "tags"
    service: str = "service"
    image: str = "image"
    image_version: str = "image_version"


class AnsibleInventoryConfig(_Section):
    inventory: Path | None = None  # a file, a directory or an executable dynamic inventory script
    refresh: Duration = Field(default=300.0, gt=0)  # re-run ansible-inventory when the cached fleet is older
    timeout: Duration = Field(default=60.0, gt=0)  # for one ansible-inventory run
    mapping: AnsibleMappingConfig = Field(default_factory=AnsibleMappingConfig)
    # Names each environment goes by in the inventory; environments left out keep these defaults.
    environments: dict[KnownEnvironment, list[str]] = Field(default_factory=_default_environment_names)

    @field_validator("environments")
    @classmethod
    def _all_environments(cls, value: dict[KnownEnvironment, list[str]]) -> dict[KnownEnvironment, list[str]]:
        merged = {**_default_environment_names(), **value}
        owner: dict[str, str] = {}
        for environment, names in merged.items():
            for name in [environment, *names]:
                key = name.strip().lower()
                if owner.setdefault(key, environment) != environment:
                    raise ValueError(f"{name!r} is listed for both {owner[key]} and {environment}; give it to one")
        return merged


class InventoryConfig(_Section):
    source: Literal["file", "ansible"] = "file"
    path: Path = SAMPLE_DATA_DIR / "fleet.yaml"  # the fleet file (source: file)
    data_dir: Path = SAMPLE_DATA_DIR
    ansible: AnsibleInventoryConfig = Field(default_factory=AnsibleInventoryConfig)

    @model_validator(mode="after")
    def _ansible_needs_an_inventory(self) -> InventoryConfig:
        if self.source == "ansible" and self.ansible.inventory is None:
            raise ValueError(
                "inventory.source is ansible, so inventory.ansible.inventory must name the Ansible inventory "
                "(a file, a directory or a dynamic inventory script, relative to the config file)"
            )
        return self


class SimulateConfig(_Section):
    error_rate: float = Field(default=0.1, ge=0, le=100)
    failing_error_rate: float = Field(default=5.0, ge=0, le=100)
    fail_assets: list[str] = Field(default_factory=list)  # the health probe reports these as unhealthy
    latency_ms: int = Field(default=0, ge=0)  # the simulate driver waits this long per action
    fail_tags: list[str] = Field(default_factory=list)  # the simulate driver fails actions on assets with these tags


class CommandDriverConfig(_Section):
    # argv templates; executables are checked when the driver is built, not when the file loads.
    apply: list[str] | None = None
    revert: list[str] | None = None
    step: list[str] | None = None
    timeout: Duration = Field(default=600.0, gt=0)


class HttpDriverConfig(_Section):
    url: str | None = None
    secret_env: str = "OPSPILOT_DRIVER_SECRET"
    status_url: str | None = None  # polled with GET until {"status": "done"|"failed"}; {key} is the idempotency key
    timeout: Duration = Field(default=600.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=100)  # per request, for 5xx, 429 and connection errors
    backoff: Duration = Field(default=1.0, ge=0)  # first retry delay; doubles each time
    poll_interval: Duration = Field(default=2.0, gt=0)


class HttpHealthConfig(_Section):
    enabled: bool = False  # true: http_ok from GETs on each asset instead of Prometheus `up`
    url_template: str = "{scheme}://{asset}:{port}{target}"
    scheme: Literal["http", "https"] = "http"
    port: int = Field(default=80, ge=1, le=65535)
    timeout_seconds: float = Field(default=5.0, gt=0)
    max_concurrency: int = Field(default=20, ge=1, le=500)


class HealthConfig(_Section):
    probe: Literal["simulate", "prometheus", "ansible"] = "simulate"  # ansible: executor.ansible.verify_playbook
    prometheus_url: str | None = None  # or env PROMETHEUS_URL
    queries: dict[str, str] = Field(default_factory=dict)  # metric -> PromQL with {assets}; overrides the defaults
    timeout_seconds: float = Field(default=10.0, gt=0)
    http: HttpHealthConfig = Field(default_factory=HttpHealthConfig)

    @model_validator(mode="after")
    def _complete(self) -> HealthConfig:
        from core.executor.health.settings import check_health_settings  # late: the rules live with the probes

        check_health_settings(self)
        return self


class AnsibleDriverConfig(_Section):
    """executor.ansible: the playbooks the ansible driver runs (paths relative to the config file)."""

    playbook: Path | None = None  # converges hosts; also run with --check --diff to find drift
    rollback_playbook: Path | None = None
    rollback_extra_vars: dict[str, Any] = Field(default_factory=dict)
    verify_playbook: Path | None = None  # optional: run after each wave, a failure counts as a failed health check
    vault_password_file: Path | None = None  # passed to ansible-playbook by path, never read by OpsPilot
    extra_vars: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration = Field(default=1800.0, gt=0)  # for one ansible-playbook run


class ExecutorConfig(_Section):
    driver: Literal["simulate", "command", "http", "ansible"] = "simulate"
    wait_scale: float = Field(default=1.0, ge=0)
    concurrency: int = Field(default=10, ge=1, le=1000)  # assets in flight within a phase
    # Failed assets a phase tolerates before it counts as failed and the run rolls back: a count or "10%".
    max_failures: int | str = 0
    lease_seconds: Duration = Field(default=30.0, ge=1)  # a dead worker's runs are taken over after this
    on_inconclusive: Literal["pause", "rollback"] = "pause"  # a health check without data
    poll_interval: Duration = Field(default=2.0, gt=0)  # safety-net poll for due work; timers wake sooner
    simulate: SimulateConfig = Field(default_factory=SimulateConfig)
    command: CommandDriverConfig = Field(default_factory=CommandDriverConfig)
    http: HttpDriverConfig = Field(default_factory=HttpDriverConfig)
    ansible: AnsibleDriverConfig = Field(default_factory=AnsibleDriverConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)

    @field_validator("max_failures")
    @classmethod
    def _failure_limit(cls, value: int | str) -> int | str:
        from core.executor.limits import parse_failure_limit  # late: the rule lives with the executor

        parse_failure_limit(value)
        return value

    @model_validator(mode="after")
    def _ansible_needs_a_playbook(self) -> ExecutorConfig:
        if self.driver == "ansible" and self.ansible.playbook is None:
            raise ValueError(
                "executor.driver is ansible, so executor.ansible.playbook must name the playbook to run "
                "(for example ansible/site.yml, relative to the config file)"
            )
        return self


class LLMConfig(_Section):
    provider: Literal["auto", "anthropic", "offline"] = "auto"
    model: str = "claude-sonnet-4-6"
    max_output_tokens: int = Field(default=2048, ge=64, le=64000)
    tokens_per_minute: int = Field(default=50000, ge=0)
    max_agent_steps: int = Field(default=6, ge=1, le=50)
    timeout_seconds: float = Field(default=60.0, gt=0)


class IntentsConfig(_Section):
    """How the offline planner reads asks (core/intents): more labelled asks, and when it asks back instead of guessing."""

    extra_corpus: Path | None = None  # a YAML file of your own asks (agent: NAME, asks: [...]); relative to the config file
    min_confidence: float = Field(default=0.55, ge=0.0, le=1.0)  # below: offer the likeliest readings as choices


class PoliciesConfig(_Section):
    # The built-in policies always load; dir and dirs add folders (relative to the config file).
    dir: Path | None = None
    dirs: list[Path] = Field(default_factory=list)
    # Short package names relative to data.opspilot (e.g. production_safety) whose verdicts are ignored.
    disable: list[str] = Field(default_factory=list)
    opa_url: str | None = None
    # Production runs may only start inside one of these (UTC), e.g. "sat-sun 00:00-06:00"; empty: any time.
    change_windows: list[str] = Field(default_factory=list)
    max_resource_changes: int = Field(default=20, ge=1)
    max_step_retries: int = Field(default=5, ge=0)
    opa_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("change_windows")
    @classmethod
    def _readable_windows(cls, value: list[str]) -> list[str]:
        from core.validation.windows import parse_window  # late: validation imports the domain, not config

        for text in value:
            parse_window(text)
        return value

    @field_validator("disable")
    @classmethod
    def _package_names(cls, value: list[str]) -> list[str]:
        names = [name.strip().removeprefix("data.").removeprefix("opspilot.") for name in value]
        if not all(names):
            raise ValueError("policies.disable lists short package names such as production_safety")
        return names


class ApprovalConfig(_Section):
    # Off by default: a high quality score never skips the human unless a team opts in.
    auto_approve_high_quality: bool = False
    auto_approve_min_score: int = Field(default=80, ge=0, le=100)


SmtpTls = Literal["none", "starttls", "implicit"]
SMTP_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "implicit": 465}  # the port when `port` is left out
WebhookFormat = Literal["cloudevents", "legacy"]
Severity = Literal["critical", "warning", "info"]


def _default_email_triggers() -> list[str]:
    return ["rolled_back", "failed"]


class EmailNotificationsConfig(_Section):
    """``notifications.email``. Today's keys (smtp_host, smtp_port, from_address, starttls, timeout_seconds) are
    read as aliases of host, port, from, tls and timeout."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    enabled: bool = False
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)  # None: 587 (starttls), 465 (implicit), 25 (none)
    tls: SmtpTls = "starttls"
    username: str | None = None
    password_env: str = "SMTP_PASSWORD"  # the environment variable holding the SMTP password
    from_: str | None = Field(default=None, alias="from")
    to: list[str] = Field(default_factory=list)
    # Without routes: the triggers (rolled_back, failed, completed, approval_required, rejected) or event types mailed.
    on: list[str] = Field(default_factory=_default_email_triggers)
    timeout: Duration = Field(default=30.0, gt=0)  # one SMTP conversation

    @property
    def smtp_port(self) -> int:
        return self.port or SMTP_PORTS[self.tls]

    @model_validator(mode="before")
    @classmethod
    def _file_shape(cls, data: object) -> object:
        from core.notify.settings import email_section_from_file  # aliases, a bare YAML `on:`, no password

        return email_section_from_file(data)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailNotificationsConfig:
        from core.notify.settings import check_email_settings  # late: the rules live with the notifiers

        check_email_settings(self)
        return self


class WebhookConfig(_Section):
    """One entry of ``notifications.webhooks``."""

    url: str
    secret_env: str = "OPSPILOT_WEBHOOK_SECRET"  # the environment variable holding the signing secret
    format: WebhookFormat = "cloudevents"
    events: list[str] | None = None  # event types to send; None: every public type
    timeout: Duration = Field(default=10.0, gt=0)  # one request

    @model_validator(mode="before")
    @classmethod
    def _file_shape(cls, data: object) -> object:
        from core.notify.settings import webhook_entry_from_file  # aliases, no secret in the file

        return webhook_entry_from_file(data)

    @model_validator(mode="after")
    def _checked(self) -> WebhookConfig:
        from core.notify.settings import check_webhook_entry

        check_webhook_entry(self)
        return self


class NotificationRouteConfig(_Section):
    """One entry of ``notifications.routes``: which events go where. An empty list matches anything."""

    events: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=list)
    email: bool = False
    to: list[str] = Field(default_factory=list)  # empty: notifications.email.to
    webhooks: bool = False

    @model_validator(mode="after")
    def _checked(self) -> NotificationRouteConfig:
        from core.notify.settings import check_route

        check_route(self)
        return self


class RetryConfig(_Section):
    attempts: int = Field(default=8, ge=1, le=100)  # per delivery, first try included; then dead-lettered
    max_backoff: Duration = Field(default=300.0, gt=0)  # the longest wait between two attempts


class NotificationsConfig(_Section):
    email: EmailNotificationsConfig = Field(default_factory=EmailNotificationsConfig)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    routes: list[NotificationRouteConfig] = Field(default_factory=list)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @model_validator(mode="before")
    @classmethod
    def _file_shape(cls, data: object) -> object:
        from core.notify.settings import notifications_from_file  # today's single `webhook:` section

        return notifications_from_file(data)

    @model_validator(mode="after")
    def _consistent(self) -> NotificationsConfig:
        from core.notify.settings import check_notifications

        check_notifications(self)
        return self

    def secret_names(self) -> set[str]:
        """The environment variables the enabled notifiers read their secrets from."""
        names = {hook.secret_env for hook in self.webhooks}
        if self.email.enabled and self.email.username:
            names.add(self.email.password_env)
        return names


class NatsConfig(_Section):
    url: str | None = None  # e.g. nats://127.0.0.1:4222; None: no publishing
    stream: str = "OPSPILOT"  # created when missing, capturing <subject_prefix>.>
    subject_prefix: str = "opspilot"

    @model_validator(mode="after")
    def _checked(self) -> NatsConfig:
        from core.notify.settings import check_nats

        check_nats(self)
        return self


class EventsConfig(_Section):
    nats: NatsConfig = Field(default_factory=NatsConfig)


class ApiConfig(_Section):
    # The REST API also needs OPSPILOT_API_TOKENS; without tokens it answers 503 and never opens.
    enabled: bool = True
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)


class SlackSecrets(BaseModel):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    api_url: str = DEFAULT_SLACK_API_URL
    # OAuth mode (docs/slack-oauth.md): all four set, or none.
    client_id: str | None = None
    client_secret: SecretStr | None = None
    state_secret: SecretStr | None = None
    token_key: SecretStr | None = None
    authorize_url: str = DEFAULT_SLACK_AUTHORIZE_URL  # SLACK_AUTHORIZE_URL: where /slack/install sends the browser

    @property
    def oauth(self) -> bool:
        """Many workspaces: tokens come from installations (``/slack/install``), not from SLACK_BOT_TOKEN."""
        return self.client_id is not None

    @property
    def has_credentials(self) -> bool:
        return self.bot_token is not None or self.app_token is not None or self.oauth


class WorkspaceConfig(_Section):
    """One workspace's own rules and fleet (``workspaces.<team_id>``, OAuth mode; core/workspaces.py): the same keys
    as the top level's. ``inventory`` unset: the workspace plans against the top-level inventory."""

    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    approvers: list[str] = Field(default_factory=list)
    requesters: list[RequesterRule] = Field(default_factory=list)
    admins: People = Field(default_factory=People)
    inventory: InventoryConfig | None = None


class IntakeConfig(_Section):
    """Asks recorded by a front and planned by workers (``opspilot serve --role``)."""

    workers: int = Field(default=4, ge=1, le=64)  # asks one replica plans at once
    lease: Duration = Field(default=60.0, ge=5)  # a dead worker's ask is planned again after this
    poll_interval: Duration = Field(default=1.0, gt=0)  # how soon a worker replica notices an ask another front recorded


class RetentionConfig(_Section):
    """How long finished rows are kept before a worker prunes them (audit rows are always kept)."""

    outbox: Duration = 14 * 86400.0  # delivered outbox events and their deliveries (dead letters are kept)
    intake_keys: Duration = 86400.0  # Slack delivery keys and REST Idempotency-Keys
    asset_rows: Duration = 90 * 86400.0  # per-asset rows of runs that ended
    interval: Duration = 3600.0  # how often the pruning runs (one replica at a time)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approvers: list[str] = Field(default_factory=list)
    inventory: InventoryConfig = Field(default_factory=InventoryConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    intents: IntentsConfig = Field(default_factory=IntentsConfig)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)  # rules: who approves what, how many
    requesters: list[RequesterRule] = Field(default_factory=list)
    admins: People = Field(default_factory=People)
    # OAuth mode: each workspace's own approval rules, approvers, requesters and admins, by team ID (core/workspaces.py).
    workspaces: dict[str, WorkspaceConfig] = Field(default_factory=dict)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    org_id: str = "default"
    # SIGTERM/SIGINT: how long phases and notifications in flight get to finish before OpsPilot exits.
    shutdown_grace: Duration = 30.0
    # From the environment only.
    database_url: str = DEFAULT_DATABASE_URL
    slack: SlackSecrets = Field(default_factory=SlackSecrets)
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    smtp_password: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    # The variables notifications name (password_env, secret_env), read by load_config.
    env_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    api_tokens: SecretStr | None = None  # OPSPILOT_API_TOKENS: "token=USER_ID,token=USER_ID"
    audit_key: SecretStr | None = None  # OPSPILOT_AUDIT_KEY: signs the audit chain's head (docs/audit.md)
    source: Path | None = None

    @field_validator("workspaces")
    @classmethod
    def _team_ids(cls, value: dict[str, WorkspaceConfig]) -> dict[str, WorkspaceConfig]:
        check_team_ids(value)
        return value

    @field_validator("approvers")
    @classmethod
    def _approver_ids(cls, value: list[str]) -> list[str]:
        for user_id in value:
            if not isinstance(user_id, str) or not user_id.strip():
                raise ValueError("approvers must be Slack user IDs such as U0APPROVER1")
        return [u.strip() for u in value]

    def secret(self, env_name: str) -> str | None:
        """The secret held by environment variable ``env_name`` (``password_env``, ``secret_env``), or None."""
        value = self.env_secrets.get(env_name)
        if value is None:
            value = {"SMTP_PASSWORD": self.smtp_password, "OPSPILOT_WEBHOOK_SECRET": self.webhook_secret}.get(env_name)
        return value.get_secret_value() if value is not None else None


_FILE_KEYS = {
    "approvers",
    "inventory",
    "executor",
    "llm",
    "intents",
    "policies",
    "approval",
    "approvals",
    "requesters",
    "admins",
    "workspaces",
    "notifications",
    "events",
    "intake",
    "retention",
    "api",
    "org_id",
    "shutdown_grace",
}


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the YAML config (``path`` or ``OPSPILOT_CONFIG``) and the environment."""
    env = os.environ if env is None else env
    path = path or env.get("OPSPILOT_CONFIG") or None
    data: dict = {}
    base = Path.cwd()
    source = None
    if path:
        source = Path(path).expanduser().resolve()
        base = source.parent
        try:
            loaded = yaml.safe_load(source.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {source} (set OPSPILOT_CONFIG to an existing YAML file)") from exc
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config {source}: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {source} must be a YAML mapping, got {type(loaded).__name__}")
        unknown = set(loaded) - _FILE_KEYS
        if unknown:
            raise ConfigError(
                f"config {source}: unknown key(s) {', '.join(sorted(unknown))}; known keys: {', '.join(sorted(_FILE_KEYS))}"
            )
        data = _resolve_paths(loaded, base)

    slack = SlackSecrets(
        bot_token=env.get("SLACK_BOT_TOKEN") or None,
        signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        app_token=env.get("SLACK_APP_TOKEN") or None,
        api_url=_with_slash(env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL),
        **_oauth_settings(env),
    )
    data.update(
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        slack=slack,
        anthropic_api_key=env.get("ANTHROPIC_API_KEY") or None,
        anthropic_base_url=env.get("ANTHROPIC_BASE_URL") or None,
        smtp_password=env.get("SMTP_PASSWORD") or None,
        webhook_secret=env.get("OPSPILOT_WEBHOOK_SECRET") or None,
        api_tokens=env.get("OPSPILOT_API_TOKENS") or None,
        audit_key=env.get("OPSPILOT_AUDIT_KEY") or None,
        source=source,
    )
    if env.get("OPA_URL"):
        data.setdefault("policies", {})
        data["policies"] = {**data["policies"], "opa_url": env["OPA_URL"]}
    executor = data.get("executor") or {}
    if env.get("PROMETHEUS_URL") and isinstance(executor, dict) and isinstance(executor.get("health") or {}, dict):
        health = {**(executor.get("health") or {}), "prometheus_url": env["PROMETHEUS_URL"]}
        data["executor"] = {**executor, "health": health}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        where = f" in {source}" if source else ""
        raise ConfigError(f"invalid configuration{where}:\n{_explain(exc)}") from exc
    config.env_secrets = {name: SecretStr(env[name]) for name in sorted(config.notifications.secret_names()) if env.get(name)}
    return config


def _oauth_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """OAuth mode's four variables: none set keeps token mode; some set is refused, naming the missing ones; a
    malformed OPSPILOT_TOKEN_KEY is refused with how to make a key."""
    given = {name: env[name].strip() for name in OAUTH_VARIABLES if (env.get(name) or "").strip()}
    if not given:
        return {}
    missing = [name for name in OAUTH_VARIABLES if name not in given]
    if missing:
        raise ConfigError(
            f"OAuth mode needs all of {', '.join(OAUTH_VARIABLES)}; {', '.join(sorted(given))} "
            f"{'is' if len(given) == 1 else 'are'} set but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            "not (unset them all for single-workspace token mode with SLACK_BOT_TOKEN; docs/slack-oauth.md)"
        )
    if (env.get("SLACK_BOT_TOKEN") or "").strip():
        raise ConfigError(
            "SLACK_BOT_TOKEN is set together with OAuth mode's variables: in OAuth mode every workspace's token comes "
            "from its installation (/slack/install); unset SLACK_BOT_TOKEN, or unset the OAuth variables for token mode"
        )
    from core.token_crypto import TokenCipher  # late: cryptography is only needed in OAuth mode

    TokenCipher.from_key(given["OPSPILOT_TOKEN_KEY"])  # a ConfigError that says how to make a key
    return {
        "client_id": given["SLACK_CLIENT_ID"],
        "client_secret": SecretStr(given["SLACK_CLIENT_SECRET"]),
        "state_secret": SecretStr(given["SLACK_STATE_SECRET"]),
        "token_key": SecretStr(given["OPSPILOT_TOKEN_KEY"]),
        "authorize_url": env.get("SLACK_AUTHORIZE_URL") or DEFAULT_SLACK_AUTHORIZE_URL,
    }


def _resolve_paths(data: dict, base: Path) -> dict:
    data = dict(data)
    workspaces = data.get("workspaces")
    if isinstance(workspaces, dict):  # each workspace's inventory paths, as the top level's
        data["workspaces"] = {
            team: {**entry, **_resolve_paths({"inventory": entry["inventory"]}, base)}
            if isinstance(entry, dict) and isinstance(entry.get("inventory"), dict)
            else entry
            for team, entry in workspaces.items()
        }
    for section, key in (("inventory", "path"), ("inventory", "data_dir"), ("policies", "dir"), ("intents", "extra_corpus")):
        value = (data.get(section) or {}).get(key) if isinstance(data.get(section), dict) else None
        if isinstance(value, str):
            data[section] = {**data[section], key: str((base / value).resolve())}
    inventory = data.get("inventory")
    ansible = inventory.get("ansible") if isinstance(inventory, dict) else None
    if isinstance(inventory, dict) and isinstance(ansible, dict) and isinstance(ansible.get("inventory"), str):
        # Not resolve(): a dynamic inventory script may be a symlink whose name Ansible should see.
        inventory_path = str(base / Path(ansible["inventory"]).expanduser())
        data["inventory"] = {**inventory, "ansible": {**ansible, "inventory": inventory_path}}
    executor = data.get("executor")
    playbooks = executor.get("ansible") if isinstance(executor, dict) else None
    if isinstance(executor, dict) and isinstance(playbooks, dict):
        keys = ("playbook", "rollback_playbook", "verify_playbook", "vault_password_file")
        resolved = {k: str((base / Path(v).expanduser()).resolve()) for k in keys if isinstance(v := playbooks.get(k), str)}
        data["executor"] = {**executor, "ansible": {**playbooks, **resolved}}
    policies = data.get("policies")
    if isinstance(policies, dict) and isinstance(policies.get("dirs"), list):
        dirs = [str((base / d).resolve()) if isinstance(d, str) else d for d in policies["dirs"]]
        data["policies"] = {**policies, "dirs": dirs}
    return data


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)
