"""A running shop for scenario tests: the real bot, an unthrottled fake Bot API, two shoppers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from bot.app import BotApp
from bot.db import models
from bot.fakeapi.server import FakeBotApi
from bot.sender import UNTHROTTLED
from bot.settings import Settings
from domain.clock import Clock, RunningClock
from tests.e2e.conftest import TOKEN
from tests.e2e.shopper import Shopper

SHOPPER, OTHER = 3001, 3002
# Monday 2026-05-04 17:30 in Shanghai: the demo stores are open.
OPEN_TIME = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
# 23:30 in Shanghai: every demo store is closed.
CLOSED_TIME = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)


@dataclass
class Shop:
    """A running bot with two shoppers and direct database access for assertions."""

    app: BotApp
    fake: FakeBotApi
    me: Shopper
    other: Shopper

    async def scalar(self, query: Any) -> Any:
        """Run a query on the bot's database."""
        async with self.app.sessionmaker() as session:
            return await session.scalar(query)

    async def execute(self, statement: Any) -> None:
        """Change the bot's database (as an operator would)."""
        async with self.app.sessionmaker() as session, session.begin():
            await session.execute(statement)

    async def stock(self, sku: str, store: str = "central") -> int | None:
        """Current stock of a product at a store."""
        value = await self.scalar(
            select(models.StoreProduct.stock)
            .join(models.Product, models.Product.id == models.StoreProduct.product_id)
            .join(models.Store, models.Store.id == models.StoreProduct.store_id)
            .where(models.Product.sku == sku, models.Store.code == store)
        )
        return value if isinstance(value, int) else None

    async def rows(self, model: type[Any]) -> list[Any]:
        """Every row of a table, by id."""
        async with self.app.sessionmaker() as session:
            return list(await session.scalars(select(model).order_by(model.id)))

    async def processed(self, update_id: int) -> None:
        """Wait until an update was handled and everything it caused was sent."""
        inbox, outbox = models.InboxEntry, models.OutboxMessage
        for _ in range(1000):
            handled = await self.scalar(select(inbox.update_id).where(inbox.update_id == update_id))
            pending = await self.scalar(select(outbox.id).where(outbox.status == "pending"))
            if handled is not None and pending is None:
                await self.fake.wait_idle(quiet=0.1)
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"update {update_id} was not processed and delivered in time")

    async def orders(self) -> list[models.Order]:
        """Every order placed."""
        return await self.rows(models.Order)


@asynccontextmanager
async def running_shop(
    database_url: str,
    runtime: str,
    *,
    start: datetime = OPEN_TIME,
    first_update_id: int = 1,
    clock: Clock | None = None,
    **settings: Any,
) -> AsyncIterator[Shop]:
    """Run the bot on `runtime` over `database_url` until the block ends.

    `clock` (default: a running clock from `start`) lets a test move time on.
    """
    fake = FakeBotApi(token=TOKEN, limits=None, first_update_id=first_update_id)
    await fake.start()
    fake.add_user(SHOPPER, "Mia", language_code="en")
    fake.add_user(OTHER, "Leo", language_code="en")
    values = Settings().model_dump() | {
        "bot_token": SecretStr(TOKEN),
        "database_url": database_url,
        "telegram_api_url": fake.base_url,
        "runtime": runtime,
        "polling_timeout": 1,
        "webhook_url": None,
    }
    app = BotApp(
        Settings.model_construct(**(values | settings)),
        clock=clock or RunningClock(start),
        send_limits=UNTHROTTLED,
    )
    await app.start()
    polling = asyncio.create_task(app.run_polling())
    await fake.wait_for_calls("deleteWebhook", 1)  # polling has begun; nothing else is pending
    try:
        yield Shop(app, fake, Shopper(fake, SHOPPER), Shopper(fake, OTHER))
    finally:
        app.request_stop()
        await polling
        await app.close()
        await fake.stop()
