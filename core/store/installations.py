"""Slack installations, bots and OAuth states in OpsPilot's own database (OAuth mode).

The rows are plain pydantic models; the Slack front adapts them to slack_sdk's ``Installation`` and ``Bot``
(``bot/oauth``). Every token is sealed with ``OPSPILOT_TOKEN_KEY`` before it is written and opened when it is read
(:class:`core.token_crypto.TokenCipher`); in memory tokens are ``SecretStr``, so they never show in a repr or a log.

An installation is kept per (client id, enterprise, workspace, installing user); the bot per (client id, enterprise,
workspace). Installing again replaces the row. An OAuth state is consumed at most once across every replica: the
consumption is one ``UPDATE … WHERE consumed_at IS NULL`` whose row count says who won.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from core.store.database import Database
from core.store.tables import slack_bots, slack_installations, slack_oauth_states
from core.token_crypto import TokenCipher

STATE_KEEP = timedelta(days=1)  # spent or expired states are pruned this long after they expire


class BotRow(BaseModel):
    client_id: str
    app_id: str | None = None
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    bot_token: SecretStr
    bot_id: str | None = None
    bot_user_id: str | None = None
    bot_scopes: str | None = None  # comma-separated, as Slack gives them
    bot_refresh_token: SecretStr | None = None
    bot_token_expires_at: datetime | None = None
    is_enterprise_install: bool = False
    installed_at: datetime


class InstallationRow(BaseModel):
    client_id: str
    app_id: str | None = None
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    enterprise_url: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    bot_token: SecretStr | None = None
    bot_id: str | None = None
    bot_user_id: str | None = None
    bot_scopes: str | None = None
    bot_refresh_token: SecretStr | None = None
    bot_token_expires_at: datetime | None = None
    user_id: str
    user_token: SecretStr | None = None
    user_scopes: str | None = None
    user_refresh_token: SecretStr | None = None
    user_token_expires_at: datetime | None = None
    incoming_webhook_url: SecretStr | None = None
    incoming_webhook_channel: str | None = None
    incoming_webhook_channel_id: str | None = None
    incoming_webhook_configuration_url: str | None = None
    is_enterprise_install: bool = False
    token_type: str | None = None
    installed_at: datetime


SEALED_INSTALLATION = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url")
SEALED_BOT = ("bot_token", "bot_refresh_token")


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class Installations:
    """The installation store's persistence. ``cipher`` seals tokens on the way in and opens them on the way out
    (a row sealed with another key raises :class:`core.errors.SealedTokenUnreadable`)."""

    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self.database = database
        self.cipher = cipher

    # -- installations and bots ---------------------------------------------------------------------

    async def save(self, installation: InstallationRow, bot: BotRow | None = None) -> None:
        """Store the installation (and its bot), replacing an earlier one of the same workspace and user, in one
        transaction."""
        values = self._sealed(installation.model_dump(), SEALED_INSTALLATION)
        values.update(_keys(installation.enterprise_id, installation.team_id, installation.is_enterprise_install))
        async with self.database.engine.begin() as conn:
            await self._replace(conn, slack_installations, values, ("client_id", "enterprise_id", "team_id", "user_id"))
            if bot is not None:
                bot_values = self._sealed(bot.model_dump(), SEALED_BOT)
                bot_values.update(_keys(bot.enterprise_id, bot.team_id, bot.is_enterprise_install))
                await self._replace(conn, slack_bots, bot_values, ("client_id", "enterprise_id", "team_id"))

    async def save_bot(self, bot: BotRow) -> None:
        """Store the workspace's bot alone (a rotated bot token), replacing the earlier one."""
        values = self._sealed(bot.model_dump(), SEALED_BOT)
        values.update(_keys(bot.enterprise_id, bot.team_id, bot.is_enterprise_install))
        async with self.database.engine.begin() as conn:
            await self._replace(conn, slack_bots, values, ("client_id", "enterprise_id", "team_id"))

    async def find_bot(
        self, client_id: str, enterprise_id: str | None, team_id: str | None, *, is_enterprise_install: bool = False
    ) -> BotRow | None:
        table = slack_bots
        where = _workspace(table, client_id, enterprise_id, team_id, is_enterprise_install)
        async with self.database.engine.connect() as conn:
            row = (await conn.execute(select(table).where(where).order_by(table.c.installed_at.desc()).limit(1))).first()
        if row is None:
            return None
        return BotRow.model_validate(self._opened(dict(row._mapping), SEALED_BOT))

    async def find_installation(
        self,
        client_id: str,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        *,
        is_enterprise_install: bool = False,
    ) -> InstallationRow | None:
        """The user's installation, or (``user_id`` None) the workspace's latest one."""
        table = slack_installations
        where = _workspace(table, client_id, enterprise_id, team_id, is_enterprise_install)
        if user_id is not None:
            where = and_(where, table.c.user_id == user_id)
        query = select(table).where(where).order_by(table.c.installed_at.desc(), table.c.id.desc()).limit(1)
        async with self.database.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return InstallationRow.model_validate(self._opened(dict(row._mapping), SEALED_INSTALLATION))

    async def delete_bot(self, client_id: str, enterprise_id: str | None, team_id: str | None) -> None:
        where = _workspace(slack_bots, client_id, enterprise_id, team_id, False)
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(slack_bots).where(where))

    async def delete_installation(
        self, client_id: str, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        table = slack_installations
        where = _workspace(table, client_id, enterprise_id, team_id, False)
        if user_id is not None:
            where = and_(where, table.c.user_id == user_id)
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(table).where(where))

    # -- OAuth states -------------------------------------------------------------------------------

    async def issue_state(self, state: str, expires_at: datetime, now: datetime) -> None:
        """Remember ``state`` until ``expires_at``; states that expired long ago are pruned on the way."""
        table = slack_oauth_states
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(table).where(table.c.expires_at < now - STATE_KEEP))
            await conn.execute(insert(table).values(state_hash=state_hash(state), expires_at=expires_at, created_at=now))

    async def consume_state(self, state: str, now: datetime) -> bool:
        """True for exactly one caller, and only while ``state`` is known, unexpired and not consumed yet."""
        table = slack_oauth_states
        statement = (
            update(table)
            .where(table.c.state_hash == state_hash(state), table.c.consumed_at.is_(None), table.c.expires_at > now)
            .values(consumed_at=now)
        )
        async with self.database.engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    # -- sealing ------------------------------------------------------------------------------------

    def _sealed(self, values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        out = dict(values)
        for name in fields:
            secret = out.get(name)
            out[name] = self.cipher.seal(secret.get_secret_value()) if isinstance(secret, SecretStr) else None
        return out

    def _opened(self, row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        out = {key: value for key, value in row.items() if key != "id"}
        for name in fields:
            if out.get(name):
                out[name] = SecretStr(self.cipher.open(out[name]))
        for name in ("enterprise_id", "team_id"):
            out[name] = out[name] or None
        for name in ("installed_at", "bot_token_expires_at", "user_token_expires_at"):
            if isinstance(out.get(name), datetime):
                out[name] = _aware(out[name])
        return out

    @staticmethod
    async def _replace(conn: AsyncConnection, table: Any, values: dict[str, Any], key: tuple[str, ...]) -> None:
        """Delete the row with the same key, then insert: a plain upsert on every backend (the transaction holds
        the write lock on SQLite; on PostgreSQL two concurrent installs of one key end with the later one)."""
        await conn.execute(delete(table).where(and_(*(table.c[name] == values[name] for name in key))))
        await conn.execute(insert(table).values(**values))


def _keys(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool) -> dict[str, str]:
    """Key columns hold "" for none; an org-wide install is found by its enterprise alone."""
    return {"enterprise_id": enterprise_id or "", "team_id": "" if is_enterprise_install else (team_id or "")}


def _workspace(
    table: Any, client_id: str, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool
) -> ColumnElement[bool]:
    keys = _keys(enterprise_id, team_id, is_enterprise_install)
    return and_(
        table.c.client_id == client_id, table.c.enterprise_id == keys["enterprise_id"], table.c.team_id == keys["team_id"]
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
