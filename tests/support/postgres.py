"""Throwaway PostgreSQL databases for tests (and the benchmarks): one fresh database per use, dropped afterwards.

The admin URL comes from ``OPSPILOT_TEST_POSTGRES_URL`` (``.ci/run`` sets it); without it, tests that need
PostgreSQL skip with :data:`SKIP_REASON`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("OPSPILOT_TEST_POSTGRES_URL") or None
SKIP_REASON = "needs PostgreSQL: set OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"


async def admin(statement: str, admin_url: str | None = None) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the admin database."""
    import asyncpg

    url = make_url(admin_url or POSTGRES_URL or "")
    conn = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port or 5432, database=url.database
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(prefix: str = "opspilot_test", admin_url: str | None = None) -> tuple[str, str]:
    """A new empty database: (its URL, its name)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"', admin_url)
    url = make_url(admin_url or POSTGRES_URL or "").set(database=name)
    return url.render_as_string(hide_password=False), name


async def drop_database(name: str, admin_url: str | None = None) -> None:
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)


@asynccontextmanager
async def fresh_database(prefix: str = "opspilot_test", admin_url: str | None = None) -> AsyncIterator[str]:
    """``async with fresh_database() as url:`` a new database, dropped on the way out."""
    url, name = await create_database(prefix, admin_url)
    try:
        yield url
    finally:
        await drop_database(name, admin_url)
