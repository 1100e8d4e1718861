"""The store contract runs on every backend: SQLite always, PostgreSQL when OPSPILOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.store import Database, Store

POSTGRES_URL = os.environ.get("OPSPILOT_TEST_POSTGRES_URL")


async def _fresh_postgres_database() -> tuple[str, str]:
    import asyncpg

    url = make_url(POSTGRES_URL)
    name = f"opspilot_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port or 5432, database=url.database
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def _drop_postgres_database(name: str) -> None:
    import asyncpg

    url = make_url(POSTGRES_URL)
    admin = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port or 5432, database=url.database
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path: Path) -> AsyncIterator[Store]:
    dropped = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL store tests need OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
        url, dropped = await _fresh_postgres_database()
    database = Database(url)
    await database.upgrade()
    try:
        yield Store(database)
    finally:
        await database.dispose()
        if dropped:
            await _drop_postgres_database(dropped)


@pytest.fixture
async def empty_postgres_url() -> AsyncIterator[str]:
    """A brand-new, empty PostgreSQL database (dropped afterwards)."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    url, name = await _fresh_postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(name)
