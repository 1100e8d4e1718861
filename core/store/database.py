"""Engine creation and schema migrations (Alembic, applied at start and by ``opspilot db upgrade``)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from core.errors import ConfigError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``sqlite:///``) and pick the async drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    else:
        raise ConfigError(f"unsupported database {backend!r}: use sqlite:///path.db or postgresql://user@host/db")
    return parsed.render_as_string(hide_password=False)


SCRATCH_PREFIX = "opspilot-scratch-"


def scratch_database_url(url: str) -> str:
    """The URL itself when that database exists; else a throwaway SQLite file, so that a dry run
    never creates the real database."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or (parsed.database and Path(parsed.database).exists()):
        return url
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX)) / "dry-run.db"
    return f"sqlite+aiosqlite:///{scratch}"


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_scratch = SCRATCH_PREFIX in self.url
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict = {}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    async def upgrade(self) -> None:
        await upgrade(self.engine)

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query (readiness checks)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        database = make_url(self.url).database
        if self.is_scratch and database:
            shutil.rmtree(Path(database).parent, ignore_errors=True)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


MIGRATION_LOCK_KEY = 0x6F70_7370_696C  # "opspil": the PostgreSQL advisory lock every OpsPilot migration takes


async def _serialize_migrations(connection: AsyncConnection) -> None:
    """Several processes starting at once on an empty database migrate one after the other: the
    others wait, then find the schema at head. The lock (or SQLite's write lock) ends with the
    migration's transaction."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(sync_connection: Connection) -> None:
        config = _alembic_config()
        config.attributes["connection"] = sync_connection
        command.upgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await _serialize_migrations(connection)
            await connection.run_sync(run)
    except (SQLAlchemyError, OSError) as exc:
        raise ConfigError(f"cannot migrate database {engine.url.render_as_string()}: {exc}") from exc
    logger.info("database schema at %s", revision)
