"""The store contract runs on every backend: SQLite always, PostgreSQL when OPSPILOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.store import Database, Store
from tests.support.postgres import POSTGRES_URL, create_database, drop_database, fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path: Path) -> AsyncIterator[Store]:
    dropped = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL store tests need OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
        url, dropped = await create_database()
    database = Database(url)
    await database.upgrade()
    try:
        yield Store(database)
    finally:
        await database.dispose()
        if dropped:
            await drop_database(dropped)


@pytest.fixture
async def empty_postgres_url() -> AsyncIterator[str]:
    """A brand-new, empty PostgreSQL database (dropped afterwards)."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    async with fresh_database() as url:
        yield url
