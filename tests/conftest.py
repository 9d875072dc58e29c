"""Shared test fixtures.

Database fixtures run every test that uses them once per backend: SQLite always, PostgreSQL
too when O2O_TEST_POSTGRES_URL names a server to create throw-away databases on, e.g.
``O2O_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test``.

Fixture chain: ``db_backend`` -> ``database_url`` (empty database) -> ``migrated_url`` (at
Alembic head) -> ``engine`` -> ``sessionmaker``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async

# --------------------------------------------------------------------------- databases

POSTGRES_URL_ENV = "O2O_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    """Return the PostgreSQL URL tests may create databases through, if configured."""
    return os.environ.get(POSTGRES_URL_ENV) or None


def database_backends() -> list[str]:
    """Return the backends database tests run on: SQLite, plus PostgreSQL when configured."""
    return ["sqlite", "postgres"] if postgres_admin_url() else ["sqlite"]


@pytest.fixture(params=database_backends())
def db_backend(request: pytest.FixtureRequest) -> str:
    """Name the backend of this test run: "sqlite" or "postgres" (also the test id)."""
    return str(request.param)


def _asyncpg_dsn(url: str) -> str:
    """Turn a SQLAlchemy URL into a plain libpq-style DSN that asyncpg accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_postgres_database(admin_url: str) -> str:
    """Create a uniquely named, empty database on the admin URL's server; return its URL."""
    import asyncpg

    name = f"o2o_test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        # template0 is tiny and never has stray connections, so this takes milliseconds.
        await conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(admin_url: str, url: str) -> None:
    """Drop a database made by _create_postgres_database, closing any connection left open."""
    import asyncpg

    name = make_url(url).database
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def database_url(db_backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """Yield the async SQLAlchemy URL of a fresh, EMPTY database on the current backend."""
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'o2o.sqlite3'}"
        return
    admin_url = postgres_admin_url()
    assert admin_url is not None
    url = await _create_postgres_database(admin_url)
    try:
        yield url
    finally:
        await _drop_postgres_database(admin_url, url)


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    """Return database_url after upgrading it to the Alembic head revision."""
    await upgrade_async(database_url)
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """Yield the bot's AsyncEngine on a migrated database; disposed afterwards."""
    engine = create_engine(migrated_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the bot's session factory bound to the migrated test database."""
    return create_sessionmaker(engine)


# --------------------------------------------------------------------------- long runs and figures


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--long``: run the reliability suite at full size (CI runs the quick variant)."""
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="reliability suite at full size (1,000 orders, 20 kills, ...); quick by default",
    )


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    """True when pytest was started with ``--long``."""
    return bool(request.config.getoption("--long"))


FIGURES_PROPERTY = "figures"


@pytest.fixture
def report_figures(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Record a test's one-line figure summary; printed at the end of the run (also under xdist)."""

    def report(line: str) -> None:
        record_property(FIGURES_PROPERTY, line)

    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print every figure summary recorded by the tests that ran."""
    lines = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name == FIGURES_PROPERTY and report.when == "call":
                    lines.append(f"{report.nodeid.split('::')[-1]}: {value}")
    if lines:
        terminalreporter.section("figures")
        for line in sorted(lines):
            terminalreporter.write_line(line)
