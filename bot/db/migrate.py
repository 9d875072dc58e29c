"""Apply the Alembic revisions shipped in the `migrations` package, from any working directory."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url

import migrations
from bot.db.engine import create_engine, is_sqlite

T = TypeVar("T")

# Alembic installs its `context`/`op` proxies as module globals, so only one command may run
# at a time in a process.
_ALEMBIC_LOCK = threading.Lock()


def migrations_dir() -> Path:
    """Return the directory of the installed `migrations` package (env.py and versions/)."""
    return Path(migrations.__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """Build an Alembic config for the packaged migrations and the given database URL."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolates "%", which URL-encoded passwords contain.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """Return the newest revision id shipped with the code."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the parent directory of a SQLite database file if it is missing."""
    if not is_sqlite(database_url):
        return
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _missing_sqlite_file(database_url: str) -> bool:
    """Tell whether the URL names a SQLite file that does not exist yet."""
    if not is_sqlite(database_url):
        return False
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).expanduser().exists()


def _outside_event_loop(fn: Callable[[], T]) -> T:
    """Call fn directly, or in a helper thread when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alembic") as pool:
        return pool.submit(fn).result()


def _upgrade_blocking(database_url: str, revision: str) -> None:
    ensure_sqlite_directory(database_url)
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(database_url), revision)


def _downgrade_blocking(database_url: str, revision: str) -> None:
    with _ALEMBIC_LOCK:
        command.downgrade(alembic_config(database_url), revision)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to the given revision (blocking)."""
    _outside_event_loop(lambda: _upgrade_blocking(database_url, revision))


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade the database to the given revision, e.g. "base" (blocking)."""
    _outside_event_loop(lambda: _downgrade_blocking(database_url, revision))


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """Upgrade from async code: env.py runs its own event loop, so Alembic goes to a thread."""
    await asyncio.to_thread(_upgrade_blocking, database_url, revision)


async def downgrade_async(database_url: str, revision: str) -> None:
    """Downgrade from async code in a worker thread, like upgrade_async."""
    await asyncio.to_thread(_downgrade_blocking, database_url, revision)


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision_async(database_url: str) -> str | None:
    """Return the revision the database is at, or None when it was never migrated."""
    if _missing_sqlite_file(database_url):
        return None  # don't create an empty file just by looking
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_revision)
    finally:
        await engine.dispose()


def current_revision(database_url: str) -> str | None:
    """Return the revision the database is at, or None when it was never migrated (blocking)."""
    return _outside_event_loop(lambda: asyncio.run(current_revision_async(database_url)))
