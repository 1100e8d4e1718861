"""Several OpsPilot processes starting at once on an empty database all migrate it, one after the other."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from core.store import Database
from core.store.database import _alembic_config

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = 4


def _head() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


async def _upgrade_in_processes(url: str, cwd: Path) -> list[tuple[int, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSPILOT_CONFIG", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT))
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "db",
            "upgrade",
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for process in processes:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        results.append((process.returncode, stderr.decode(errors="replace")))
    return results


async def _schema_version(url: str) -> list[str]:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return list((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    finally:
        await database.dispose()


@pytest.mark.postgres
async def test_concurrent_first_upgrades_on_empty_postgres_all_succeed(empty_postgres_url: str, tmp_path: Path) -> None:
    results = await _upgrade_in_processes(empty_postgres_url, tmp_path)
    assert [code for code, _ in results] == [0] * PROCESSES, "\n".join(err for _, err in results)
    assert await _schema_version(empty_postgres_url) == [_head()]


async def test_concurrent_first_upgrades_on_a_new_sqlite_file_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    results = await _upgrade_in_processes(url, tmp_path)
    assert [code for code, _ in results] == [0] * PROCESSES, "\n".join(err for _, err in results)
    assert await _schema_version(url) == [_head()]
