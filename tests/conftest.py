from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import Config, load_config
from core.service import OpsPilot

APPROVERS = ["U0APPROVER1", "U0APPROVER2"]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Embedded defaults on a throwaway SQLite file, no waiting between phases."""
    cfg = load_config(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'opspilot.db'}"})
    cfg.approvers = list(APPROVERS)
    cfg.executor.wait_scale = 0.0
    return cfg


@pytest.fixture
async def service(config: Config) -> AsyncIterator[OpsPilot]:
    svc = await OpsPilot.create(config)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.close()


def postgres_url() -> str | None:
    return os.environ.get("OPSPILOT_TEST_POSTGRES_URL") or None
