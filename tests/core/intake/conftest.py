"""Intake keys and REST idempotency keys run on SQLite always and on PostgreSQL when OPSPILOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from tests.core.work.conftest import database

__all__ = ["database"]
