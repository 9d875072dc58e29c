"""The due-work loop's housekeeping: the inbox keeps recent update ids only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.uow import SqlUnitOfWork
from bot.jobs import INBOX_RETENTION, JobRunner, prune_inbox
from domain.clock import FixedClock
from handlers.i18n import Translator

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_old_update_ids_are_forgotten_and_recent_ones_still_deduplicate(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        uow = SqlUnitOfWork(session)
        await uow.record_update(1, "text", NOW - INBOX_RETENTION - timedelta(minutes=1))
        await uow.record_update(2, "text", NOW - timedelta(hours=23))
    runner = JobRunner(
        sessionmaker, FixedClock(NOW), lambda: None, Translator.default(), jobs=[("p", prune_inbox)]
    )

    done = await runner.run_once()

    assert done == {"p": 0}
    async with sessionmaker() as session:
        kept = list(await session.scalars(select(models.InboxEntry.update_id)))
    assert kept == [2]
    async with sessionmaker() as session, session.begin():
        assert not await SqlUnitOfWork(session).record_update(2, "text", NOW), "still a duplicate"
