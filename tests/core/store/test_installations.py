"""Slack installations and OAuth states in OpsPilot's database (OAuth mode), on SQLite and PostgreSQL: tokens are
sealed at rest, a state is consumed once across replicas, a reinstall replaces the row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from core.errors import SealedTokenUnreadable
from core.store import Database, Store
from core.store.installations import BotRow, InstallationRow, Installations
from core.store.tables import slack_bots, slack_installations, slack_oauth_states
from core.token_crypto import TokenCipher

KEY = Fernet.generate_key().decode()
CLIENT = "111.222"
BOT_TOKEN = "xoxb-team-a-secret-token"
USER_TOKEN = "xoxp-user-secret-token"


def _installation(team: str = "T0A", user: str = "U0A", token: str = BOT_TOKEN, at: datetime | None = None) -> InstallationRow:
    return InstallationRow(
        client_id=CLIENT,
        app_id="A0APP",
        team_id=team,
        team_name=f"team {team}",
        bot_token=SecretStr(token),
        bot_id="B0BOT",
        bot_user_id="U0BOT",
        bot_scopes="commands,chat:write",
        user_id=user,
        user_token=SecretStr(USER_TOKEN),
        installed_at=at or datetime.now(UTC),
    )


def _bot(row: InstallationRow) -> BotRow:
    assert row.bot_token is not None
    return BotRow(
        client_id=row.client_id,
        app_id=row.app_id,
        team_id=row.team_id,
        team_name=row.team_name,
        bot_token=row.bot_token,
        bot_id=row.bot_id,
        bot_user_id=row.bot_user_id,
        bot_scopes=row.bot_scopes,
        installed_at=row.installed_at,
    )


@pytest.fixture
def installations(store: Store) -> Installations:
    return Installations(store.database, TokenCipher.from_key(KEY))


async def test_tokens_are_sealed_at_rest_and_open_with_the_key(installations: Installations, store: Store) -> None:
    row = _installation()
    await installations.save(row, _bot(row))

    async with store.database.engine.connect() as conn:
        raw = dict((await conn.execute(select(slack_installations))).one()._mapping)
        raw_bot = dict((await conn.execute(select(slack_bots))).one()._mapping)
    stored = " ".join(str(v) for v in [*raw.values(), *raw_bot.values()])
    assert BOT_TOKEN not in stored and USER_TOKEN not in stored
    assert Fernet(KEY.encode()).decrypt(raw["bot_token"].encode()).decode() == BOT_TOKEN
    assert Fernet(KEY.encode()).decrypt(raw["user_token"].encode()).decode() == USER_TOKEN

    found = await installations.find_installation(CLIENT, None, "T0A")
    assert found is not None and found.bot_token is not None and found.bot_token.get_secret_value() == BOT_TOKEN
    assert BOT_TOKEN not in repr(found)  # SecretStr: never in a repr or a log line
    bot = await installations.find_bot(CLIENT, None, "T0A")
    assert bot is not None and bot.bot_token.get_secret_value() == BOT_TOKEN and bot.team_name == "team T0A"


async def test_a_row_sealed_with_another_key_is_a_clear_error(installations: Installations, store: Store) -> None:
    row = _installation()
    await installations.save(row, _bot(row))
    other = Installations(store.database, TokenCipher.from_key(Fernet.generate_key().decode()))
    with pytest.raises(SealedTokenUnreadable, match=r"OPSPILOT_TOKEN_KEY.*/slack/install"):
        await other.find_bot(CLIENT, None, "T0A")
    # A rotation: the new key first, the old one after it, reads both.
    rotated = Installations(store.database, TokenCipher.from_key(f"{Fernet.generate_key().decode()},{KEY}"))
    found = await rotated.find_bot(CLIENT, None, "T0A")
    assert found is not None and found.bot_token.get_secret_value() == BOT_TOKEN


async def test_workspaces_are_kept_apart_and_a_reinstall_replaces_the_row(installations: Installations) -> None:
    early = datetime.now(UTC) - timedelta(hours=1)
    for row in (_installation("T0A", at=early), _installation("T0B", token="xoxb-team-b")):
        await installations.save(row, _bot(row))
    again = _installation("T0A", token="xoxb-team-a-new")
    await installations.save(again, _bot(again))

    a, b = await installations.find_bot(CLIENT, None, "T0A"), await installations.find_bot(CLIENT, None, "T0B")
    assert a is not None and a.bot_token.get_secret_value() == "xoxb-team-a-new"
    assert b is not None and b.bot_token.get_secret_value() == "xoxb-team-b"
    assert await installations.find_bot(CLIENT, None, "T0NOPE") is None
    assert await installations.find_bot("other-client", None, "T0A") is None

    # A second user of the same workspace: the workspace's latest installation is theirs.
    later = _installation("T0A", user="U0B", token="xoxb-team-a-newest", at=datetime.now(UTC) + timedelta(seconds=1))
    await installations.save(later, _bot(later))
    latest = await installations.find_installation(CLIENT, None, "T0A")
    assert latest is not None and latest.user_id == "U0B"
    first = await installations.find_installation(CLIENT, None, "T0A", "U0A")
    assert first is not None and first.user_id == "U0A"

    await installations.delete_installation(CLIENT, None, "T0A")
    await installations.delete_bot(CLIENT, None, "T0A")
    assert await installations.find_installation(CLIENT, None, "T0A") is None
    assert await installations.find_bot(CLIENT, None, "T0A") is None
    assert await installations.find_bot(CLIENT, None, "T0B") is not None


async def test_a_state_is_consumed_once_and_only_before_it_expires(installations: Installations, store: Store) -> None:
    now = datetime.now(UTC)
    await installations.issue_state("state-1", now + timedelta(minutes=10), now)
    await installations.issue_state("state-old", now + timedelta(seconds=1), now)

    assert await installations.consume_state("state-1", now) is True
    assert await installations.consume_state("state-1", now) is False  # replayed
    assert await installations.consume_state("never-issued", now) is False
    assert await installations.consume_state("state-old", now + timedelta(seconds=2)) is False  # expired
    async with store.database.engine.connect() as conn:
        hashes = [r.state_hash for r in await conn.execute(select(slack_oauth_states))]
    assert "state-1" not in hashes and len(hashes) == 2  # only hashes are kept


async def test_concurrent_replicas_consume_a_state_exactly_once(installations: Installations, store: Store) -> None:
    now = datetime.now(UTC)
    await installations.issue_state("raced", now + timedelta(minutes=10), now)
    replicas = [Database(store.database.url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(Installations(db, installations.cipher).consume_state("raced", now) for db in replicas for _ in range(3))
        )
    finally:
        for db in replicas:
            await db.dispose()
    assert results.count(True) == 1 and len(results) == 12
