"""The Alembic revisions build exactly the schema of bot.db.models, on SQLite and PostgreSQL."""

from __future__ import annotations

import pprint
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    UniqueConstraint,
    inspect,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_engine
from bot.db.migrate import (
    alembic_config,
    current_revision,
    current_revision_async,
    downgrade_async,
    head_revision,
    upgrade,
    upgrade_async,
)
from bot.db.models import Base, InboxEntry

MODEL_TABLES = set(Base.metadata.tables)


async def table_names(url: str) -> set[str]:
    """Return the tables present in the database, Alembic's version table excluded."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    return names - {"alembic_version"}


def test_one_linear_history_starts_at_0001_initial() -> None:
    script = ScriptDirectory.from_config(alembic_config(""))
    assert script.get_heads() == [head_revision()]
    assert script.get_base() == "0001_initial"


async def test_upgrade_creates_every_model_table(database_url: str) -> None:
    assert await table_names(database_url) == set()
    await upgrade_async(database_url)
    assert await table_names(database_url) == MODEL_TABLES


async def test_upgrade_on_a_connection_handed_to_env_py(database_url: str) -> None:
    def run_upgrade(conn: Connection) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")

    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:  # the caller's transaction; committed on exit
            await conn.run_sync(run_upgrade)
    finally:
        await engine.dispose()
    assert await table_names(database_url) == MODEL_TABLES
    assert await current_revision_async(database_url) == head_revision()


async def test_downgrade_to_base_then_upgrade_again(migrated_url: str) -> None:
    await downgrade_async(migrated_url, "base")
    assert await table_names(migrated_url) == set()
    assert await current_revision_async(migrated_url) is None
    await upgrade_async(migrated_url)
    assert await table_names(migrated_url) == MODEL_TABLES
    assert await current_revision_async(migrated_url) == head_revision()


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], "models.py and the migrations differ:\n" + pprint.pformat(changes)


def model_constraint_names() -> dict[str, dict[str, set[str]]]:
    """Return, per table, the names the models give each kind of constraint and index."""
    kinds = {
        "pk": PrimaryKeyConstraint,
        "fk": ForeignKeyConstraint,
        "uq": UniqueConstraint,
        "ck": CheckConstraint,
    }
    names: dict[str, dict[str, set[str]]] = {}
    for table in Base.metadata.sorted_tables:
        names[table.name] = {
            kind: {str(c.name) for c in table.constraints if isinstance(c, cls)}
            for kind, cls in kinds.items()
        }
        names[table.name]["ix"] = {str(ix.name) for ix in table.indexes}
    return names


def reflected_constraint_names(conn: Connection) -> dict[str, dict[str, set[str]]]:
    """Return, per model table, the constraint and index names found in the database."""
    insp = inspect(conn)
    names: dict[str, dict[str, set[str]]] = {}
    for table in Base.metadata.sorted_tables:
        t = table.name
        names[t] = {
            "pk": {str(insp.get_pk_constraint(t)["name"])},
            "fk": {str(fk["name"]) for fk in insp.get_foreign_keys(t)},
            "uq": {str(uq["name"]) for uq in insp.get_unique_constraints(t)},
            "ck": {str(ck["name"]) for ck in insp.get_check_constraints(t)},
            # PostgreSQL also lists the indexes backing unique constraints; skip those.
            "ix": {
                str(ix["name"]) for ix in insp.get_indexes(t) if not ix.get("duplicates_constraint")
            },
        }
    return names


async def test_constraints_and_indexes_carry_the_conventional_names(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        reflected = await conn.run_sync(reflected_constraint_names)
    assert reflected == model_constraint_names()


async def test_current_revision_tracks_upgrades(database_url: str) -> None:
    assert current_revision(database_url) is None
    await upgrade_async(database_url)
    assert current_revision(database_url) == head_revision()
    assert await current_revision_async(database_url) == head_revision()


@pytest.mark.parametrize("db_backend", ["sqlite"])  # journal mode is a SQLite setting
async def test_sqlite_file_is_in_wal_mode_after_migrate(migrated_url: str) -> None:
    path = make_url(migrated_url).database
    assert path is not None
    # A plain connection that sets no pragma: WAL must be persisted in the file itself.
    with sqlite3.connect(path) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    conn.close()
    assert mode == "wal"


def test_sync_upgrade_creates_missing_sqlite_directory(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'dir' / 'o2o.sqlite3'}"
    assert current_revision(url) is None
    assert not (tmp_path / "nested").exists()  # looking did not create anything
    upgrade(url)
    assert current_revision(url) == head_revision()


def test_offline_mode_renders_the_whole_history_for_postgresql(
    capsys: pytest.CaptureFixture[str],
) -> None:
    command.upgrade(alembic_config("postgresql+asyncpg://u@localhost/o2o"), "head", sql=True)
    out = capsys.readouterr().out
    for table in MODEL_TABLES:
        assert f"CREATE TABLE {table} " in out
    assert "INSERT INTO alembic_version" in out


def test_offline_mode_renders_the_initial_schema_for_sqlite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # SQLite batch migrations (0002 on) must reflect the live table, which --sql cannot do;
    # SQLite databases are migrated online by `o2o migrate`.
    command.upgrade(alembic_config("sqlite+aiosqlite:///offline.sqlite3"), "0001_initial", sql=True)
    out = capsys.readouterr().out
    assert "CREATE TABLE stores " in out
    assert "INSERT INTO alembic_version" in out


async def test_utc_datetime_round_trip(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    plus_five_thirty = timezone(timedelta(hours=5, minutes=30))
    sent = datetime(2024, 3, 10, 23, 45, 1, 123456, tzinfo=plus_five_thirty)
    async with sessionmaker() as session, session.begin():
        session.add(
            InboxEntry(update_id=2**40, kind="message", outcome="handled", received_at=sent)
        )

    async with sessionmaker() as session:
        got = await session.scalar(
            select(InboxEntry.received_at).where(InboxEntry.update_id == 2**40)
        )
    assert got is not None
    assert got == sent
    assert got.tzinfo is not None
    assert got.utcoffset() == timedelta(0)
    assert got == datetime(2024, 3, 10, 18, 15, 1, 123456, tzinfo=UTC)

    # Comparisons in SQL work on the stored UTC value.
    async with sessionmaker() as session:
        later = await session.scalar(
            select(InboxEntry.update_id).where(
                InboxEntry.received_at > datetime(2024, 3, 10, 18, 15, tzinfo=UTC)
            )
        )
    assert later == 2**40


async def test_utc_datetime_refuses_naive_values(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        session.add(
            InboxEntry(
                update_id=1, kind="message", outcome="handled", received_at=datetime(2024, 1, 1)
            )
        )
        with pytest.raises(StatementError) as excinfo:
            await session.flush()
        await session.rollback()
    assert isinstance(excinfo.value.orig, ValueError)
    assert "naive" in str(excinfo.value.orig)
