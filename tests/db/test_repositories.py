"""Repositories and the unit of work on real databases (SQLite files, PostgreSQL if configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.uow import SqlUnitOfWork
from bot.seed import seed_demo_data
from domain.customers import Customer
from handlers.outbound import answer_callback, send_message

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_a_customer_round_trips_through_add_get_and_save(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        uow = SqlUnitOfWork(session)
        added = await uow.customers.add(Customer(telegram_id=7_000_000_001, first_name="Li"), NOW)
    async with sessionmaker() as session, session.begin():
        uow = SqlUnitOfWork(session)
        loaded = await uow.customers.get_by_telegram_id(7_000_000_001)
        assert loaded is not None
        loaded.choose_language("zh-CN")
        loaded.phone = "+8613800138000"
        await uow.customers.save(loaded, NOW + timedelta(minutes=1))
    async with sessionmaker() as session:
        row = (await session.execute(select(models.Customer))).scalar_one()

    assert added.id == row.id
    assert (row.language, row.language_chosen, row.phone) == ("zh-CN", True, "+8613800138000")
    assert row.created_at == NOW
    assert row.updated_at == NOW + timedelta(minutes=1)


async def test_nothing_is_kept_when_the_transaction_fails(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    try:
        async with sessionmaker() as session, session.begin():
            uow = SqlUnitOfWork(session)
            await uow.customers.add(Customer(telegram_id=42, first_name="Ann"), NOW)
            await uow.record_update(1, "command", NOW)
            uow.enqueue([send_message(42, "hi")], NOW, 1)
            raise RuntimeError("use case failed")
    except RuntimeError:
        pass

    async with sessionmaker() as session:
        counts = [
            len((await session.execute(select(table))).all())
            for table in (models.Customer, models.InboxEntry, models.OutboxMessage)
        ]
    assert counts == [0, 0, 0]


async def test_the_inbox_refuses_an_update_id_it_has_seen(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        first = await SqlUnitOfWork(session).record_update(9, "text", NOW)
    async with sessionmaker() as session, session.begin():
        second = await SqlUnitOfWork(session).record_update(9, "text", NOW)
        other = await SqlUnitOfWork(session).record_update(8, "text", NOW)

    assert (first, second, other) == (True, False, True)


async def test_outbox_rows_keep_call_order_chat_and_params(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    calls = [send_message(5, "one"), answer_callback("cb-1", "ok"), send_message(5, "two")]
    async with sessionmaker() as session, session.begin():
        SqlUnitOfWork(session).enqueue(calls, NOW, source_update_id=3)

    async with sessionmaker() as session:
        rows = (await session.execute(select(models.OutboxMessage).order_by("id"))).scalars().all()
    assert [(r.method, r.chat_id, r.status) for r in rows] == [
        ("sendMessage", 5, "pending"),
        ("answerCallbackQuery", None, "pending"),
        ("sendMessage", 5, "pending"),
    ]
    assert rows[2].params["text"] == "two"
    assert all(r.next_attempt_at == NOW and r.source_update_id == 3 for r in rows)


async def test_stores_are_found_by_code_and_id_and_listed_by_name(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await seed_demo_data(sessionmaker, NOW)
    assert not await seed_demo_data(sessionmaker, NOW), "seeding twice adds nothing"

    async with sessionmaker() as session:
        stores = SqlUnitOfWork(session).stores
        central = await stores.get_by_code("central")
        assert central is not None
        assert central.id is not None
        by_id = await stores.get(central.id)
        names = [store.name for store in await stores.list_all()]
        missing = await stores.get_by_code("nope")

    assert by_id == central
    assert central.opening_hours["mon"] == [["07:30", "21:00"]]
    assert names == sorted(names)
    assert missing is None


async def test_conversation_state_is_set_updated_and_cleared(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        conversations = SqlUnitOfWork(session).conversations
        await conversations.set(1, 1, "checkout.phone", {"cart": 3}, NOW)
        await conversations.set(1, 1, "checkout.confirm", {"cart": 3, "phone": "x"}, NOW)
    async with sessionmaker() as session, session.begin():
        conversations = SqlUnitOfWork(session).conversations
        state = await conversations.get(1, 1)
        await conversations.clear(1, 1)
        cleared = await conversations.get(1, 1)

    assert state is not None
    assert (state.state, state.data) == ("checkout.confirm", {"cart": 3, "phone": "x"})
    assert cleared is None
