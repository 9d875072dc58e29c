"""Async engine and session factory, with the SQLite pragmas the bot relies on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Execution options of a transaction that only reads. On SQLite it begins DEFERRED: in WAL mode
# it reads a snapshot at once instead of queueing for the write lock behind an update's
# transaction (BEGIN IMMEDIATE waits in SQLite's busy handler, which naps up to 100 ms at a time).
# Such a transaction must not write: a write would need the lock its snapshot predates.
READ_ONLY: dict[str, Any] = {"o2o_read_only": True}


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine; SQLite connections get WAL, foreign keys and a busy timeout."""
    kwargs: dict[str, Any] = {"echo": echo}
    if not is_sqlite(url):
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the sender read while an update's transaction writes; busy_timeout makes
    # concurrent writers wait instead of failing with "database is locked".
    # The driver's own implicit BEGIN is deferred; we issue BEGIN IMMEDIATE ourselves instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory used by the unit of work; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails with SQLITE_BUSY when another
    # writer got in between; taking the write lock up front makes SQLite serialise them instead.
    # Transactions declared READ_ONLY never write, so they skip the lock.
    if connection.get_execution_options().get("o2o_read_only"):
        connection.exec_driver_sql("BEGIN")
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")
