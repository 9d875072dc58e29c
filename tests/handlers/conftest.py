"""A pipeline on a real migrated database with a fixed clock, for feeding updates to the core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.pipeline import Outcome, UpdatePipeline
from bot.seed import seed_demo_data
from domain.clock import FixedClock
from handlers.callbacks import CallbackCodec
from handlers.core import ConversationCore, CoreConfig
from handlers.i18n import Translator

CALLBACK_KEY = b"k" * 32


@dataclass
class Harness:
    """Feeds raw updates through the real pipeline and reads back what it wrote."""

    pipeline: UpdatePipeline
    sessionmaker: async_sessionmaker[AsyncSession]
    codec: CallbackCodec
    clock: FixedClock
    wakes: list[int]

    async def feed(self, update: dict[str, Any]) -> Outcome:
        """Process one update."""
        return await self.pipeline.process(update)

    async def outbox(self, chat_id: int | None = None) -> list[models.OutboxMessage]:
        """Outbox rows in id order, optionally for one chat."""
        async with self.sessionmaker() as session:
            query = select(models.OutboxMessage).order_by(models.OutboxMessage.id)
            if chat_id is not None:
                query = query.where(models.OutboxMessage.chat_id == chat_id)
            return list((await session.execute(query)).scalars())

    async def texts(self, chat_id: int) -> list[str]:
        """Texts of messages sent or edited into a chat, in order."""
        return [row.params["text"] for row in await self.outbox(chat_id) if "text" in row.params]

    async def customer(self, telegram_id: int) -> models.Customer | None:
        """The customers row of a Telegram user."""
        async with self.sessionmaker() as session:
            query = select(models.Customer).where(models.Customer.telegram_id == telegram_id)
            return (await session.execute(query)).scalar_one_or_none()


@pytest.fixture
async def harness(sessionmaker: async_sessionmaker[AsyncSession]) -> Harness:
    """A pipeline over a migrated database seeded with the demo stores."""
    clock = FixedClock(datetime(2026, 5, 4, 9, 30, tzinfo=UTC))
    await seed_demo_data(sessionmaker, clock.now())
    codec = CallbackCodec(CALLBACK_KEY)
    core = ConversationCore(CoreConfig(bot_username="o2o_demo_bot"), Translator.default(), codec)
    wakes: list[int] = []
    pipeline = UpdatePipeline(sessionmaker, core, clock, on_commit=lambda: wakes.append(1))
    return Harness(pipeline, sessionmaker, codec, clock, wakes)
