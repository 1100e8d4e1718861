"""Outbox tests run on SQLite always and on PostgreSQL when OPSPILOT_TEST_POSTGRES_URL is set (the work fixture)."""

from __future__ import annotations

from tests.core.work.conftest import database

__all__ = ["database"]
