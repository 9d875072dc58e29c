"""Run `o2o` admin commands through bot.cli.main against the test database, and read it back."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker


@dataclass(frozen=True)
class Result:
    """Exit code and captured output of one `o2o` run."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """Non-empty stderr lines."""
        return [line for line in self.err.splitlines() if line.strip()]


class Cli:
    """Calls main() in a worker thread (it runs its own event loop) and captures its output."""

    def __init__(self, capsys: pytest.CaptureFixture[str], url: str) -> None:
        self.capsys = capsys
        self.url = url

    async def __call__(self, *argv: str | Path) -> Result:
        self.capsys.readouterr()
        code = await asyncio.to_thread(main, [str(arg) for arg in argv])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`await cli("store", "list")` runs `o2o store list` on an empty test database."""
    for name in list(os.environ):
        if name.startswith("O2O_") and not name.startswith("O2O_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("O2O_DATABASE_URL", database_url)
    monkeypatch.setenv("O2O_LOG_LEVEL", "WARNING")
    return Cli(capsys, database_url)


CENTRAL = (
    "store", "add", "central", "--name", "Central Café", "--timezone", "Asia/Shanghai",
    "--currency", "CNY", "--hours", "daily 07:30-21:00", "--tables", "1-12:4,13-14:8",
)  # fmt: skip
RIVERSIDE = (
    "store", "add", "riverside", "--name", "Riverside Tea House", "--timezone", "Asia/Shanghai",
    "--currency", "CNY", "--hours", "tue-sat 10:00-22:00", "--tables", "1-6:2",
)  # fmt: skip


async def add_two_stores(cli: Cli) -> None:
    """The two CNY stores the catalog tests sell at."""
    for command in (CENTRAL, RIVERSIDE):
        result = await cli(*command)
        assert result.code == 0, result.err


async def read_database(url: str) -> dict[str, Any]:
    """Stores, tables, categories, products, listings and services as plain comparable data."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            stores = {row.id: row for row in await session.scalars(select(models.Store))}
            categories = {row.id: row for row in await session.scalars(select(models.Category))}
            products = {row.id: row for row in await session.scalars(select(models.Product))}
            listings = list(await session.scalars(select(models.StoreProduct)))
            services = list(await session.scalars(select(models.Service)))
            tables = list(await session.scalars(select(models.StoreTable)))
    finally:
        await engine.dispose()
    return {
        "stores": {
            row.code: {
                "name": row.name,
                "address": row.address,
                "timezone": row.timezone,
                "currency": row.currency,
                "opening_hours": row.opening_hours,
                "settings": row.settings,
                "paused": row.paused,
                "staff_chat_id": row.staff_chat_id,
                "manager_telegram_id": row.manager_telegram_id,
            }
            for row in stores.values()
        },
        "tables": {
            (stores[row.store_id].code, row.label): (row.capacity, row.active) for row in tables
        },
        "categories": {
            row.code: (row.name, row.names, row.sort_order) for row in categories.values()
        },
        "products": {
            row.sku: {
                "name": row.name,
                "names": row.names,
                "description": row.description,
                "category": categories[row.category_id].code if row.category_id else None,
                "price_minor": row.price_minor,
                "currency": row.currency,
                "photo": row.photo,
                "active": row.active,
            }
            for row in products.values()
        },
        "listings": {
            (stores[row.store_id].code, products[row.product_id].sku): (row.stock, row.available)
            for row in listings
        },
        "services": {
            (stores[row.store_id].code, row.code): (
                row.name,
                row.names,
                row.duration_minutes,
                row.price_minor,
                row.active,
            )
            for row in services
        },
    }
