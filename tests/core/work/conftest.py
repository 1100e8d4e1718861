"""The durable-work contract runs on every backend: SQLite always, PostgreSQL when OPSPILOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.store import Database
from tests.support.postgres import POSTGRES_URL, create_database, drop_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request, tmp_path: Path) -> AsyncIterator[Database]:
    dropped = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'work.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip(
                "PostgreSQL work-queue tests need OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
            )
        url, dropped = await create_database()
    db = Database(url)
    await db.upgrade()
    try:
        yield db
    finally:
        await db.dispose()
        if dropped:
            await drop_database(dropped)
