"""Persistence: SQLAlchemy 2 async over SQLite (embedded default) or PostgreSQL (asyncpg)."""

from core.store.database import Database, upgrade
from core.store.repository import AuditEntry, Store

__all__ = ["AuditEntry", "Database", "Store", "upgrade"]
