"""Alembic environment: runs the revisions on the bot's own async engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url

from bot.db.engine import create_engine, is_sqlite
from bot.db.migrate import ensure_sqlite_directory
from bot.db.models import Base
from bot.db.types import UtcDateTime

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///o2o.sqlite3"

config = context.config

# Only the `alembic` CLI hands us an ini file; programmatic runs (bot.db.migrate, tests)
# keep whatever logging the application configured.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """Return the URL from the config, else O2O_DATABASE_URL, else the local SQLite file."""
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("O2O_DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render the project's own column types with a readable import in new revisions."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        autogen_context.imports.add("from bot.db.types import UtcDateTime")
        return "UtcDateTime()"
    return False


def configure_options(backend: str) -> dict[str, Any]:
    """Options shared by offline and online runs."""
    return {
        "target_metadata": target_metadata,
        "render_as_batch": True,
        "compare_type": True,
        "render_item": render_item,
        # SQLite DDL is transactional and the engine drives transactions itself
        # (BEGIN IMMEDIATE), so a failed upgrade rolls back completely there too.
        "transactional_ddl": True if backend == "sqlite" else None,
    }


def run_migrations_offline() -> None:
    """Emit the migration SQL to stdout (`alembic upgrade head --sql`) without a database."""
    url = database_url()
    backend = make_url(url).get_backend_name()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **configure_options(backend),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the revisions on a sync connection (the sync side of an async one)."""
    context.configure(connection=connection, **configure_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    """Open the bot's async engine on the URL and run the revisions through it."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Use a connection handed over in config.attributes["connection"], else open our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    url = database_url()
    if is_sqlite(url) and make_url(url).database in (None, "", ":memory:"):
        raise RuntimeError("refusing to migrate an in-memory SQLite database: it vanishes")
    ensure_sqlite_directory(url)
    asyncio.run(run_async_migrations(url))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
