"""RFM on real databases: the per-customer summary in SQL; the runs /rfm records and compares."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics.rfm import CLASSIC8_SEGMENTS, Model, RfmResult, rfm_from_summary
from bot.db import models
from bot.db.rfm import (
    NEW,
    MixedCurrenciesError,
    SegmentCount,
    SegmentMove,
    customer_summary,
    record_run,
    rfm_scope,
)
from bot.db.stats import UnknownStoreError
from bot.rfm_report import rfm_calls
from handlers.i18n import Translator

AT = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai
GW, GD, IV, IW = "general_winback", "general_develop", "important_value", "important_winback"


async def add_store(
    sessionmaker: async_sessionmaker[AsyncSession],
    code: str,
    currency: str = "CNY",
    settings: dict[str, Any] | None = None,
) -> int:
    """A store row; its id."""
    async with sessionmaker() as session, session.begin():
        store = models.Store(
            code=code,
            name=code.title(),
            timezone="Asia/Shanghai",
            currency=currency,
            settings=settings or {},
            created_at=AT,
        )
        session.add(store)
        await session.flush()
        return store.id


def result_of(segments: dict[int, str], as_of: date, model: Model = "classic8") -> RfmResult:
    """An RFM result with the given segment per customer (record_run reads only these)."""
    ids = (
        [s.id for s in CLASSIC8_SEGMENTS] if model == "classic8" else sorted(set(segments.values()))
    )
    customers = pd.DataFrame(
        {
            "customer_id": list(segments),
            "segment": pd.Categorical(list(segments.values()), categories=ids),
        }
    )
    counts = {s: sum(1 for v in segments.values() if v == s) for s in ids}
    return RfmResult(as_of, model, customers, {}, counts)


async def members(sessionmaker: async_sessionmaker[AsyncSession], run_id: int) -> dict[int, str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(models.RfmMember.customer_id, models.RfmMember.segment).where(
                models.RfmMember.run_id == run_id
            )
        )
        return {int(customer): str(segment) for customer, segment in rows}


FIRST = {1: GW, 2: GW, 3: GW, 4: GW, 5: GD, 6: GD, 7: GD, 8: IV, 9: IV, 10: IV}
# 3, 4: GW -> IW; 6: GD -> IV; 7: GD -> GW; 10 gone; 11, 12 (GD) and 13 (IV) new.
SECOND = {1: GW, 2: GW, 3: IW, 4: IW, 5: GD, 6: IV, 7: GW, 8: IV, 9: IV, 11: GD, 12: GD, 13: IV}


async def test_the_first_run_is_stored_with_its_members_and_has_nothing_to_compare(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id = await add_store(sessionmaker, "central")

    movement = await record_run(sessionmaker, store_id, result_of(FIRST, date(2026, 5, 5)), AT)

    assert movement.first_run
    assert (movement.customers, movement.as_of, movement.model) == (
        10,
        date(2026, 5, 5),
        "classic8",
    )
    assert movement.previous_as_of is None
    assert [s.segment for s in movement.segments] == [s.id for s in CLASSIC8_SEGMENTS]
    assert {s.segment: s.count for s in movement.segments if s.count} == {GW: 4, GD: 3, IV: 3}
    assert all(s.change is None for s in movement.segments)
    assert (movement.moves, movement.arrivals, movement.moved, movement.gone) == ((), (), 0, 0)
    async with sessionmaker() as session:
        run = await session.get(models.RfmRun, movement.run_id)
    assert run is not None
    assert (run.store_id, run.model, run.as_of, run.customers) == (
        store_id,
        "classic8",
        "2026-05-05",
        10,
    )
    assert run.counts[GW] == 4
    assert run.counts["important_develop"] == 0
    assert run.created_at == AT
    assert await members(sessionmaker, movement.run_id) == FIRST


async def test_the_second_run_shows_each_segment_s_change_the_moves_and_the_new_customers(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id = await add_store(sessionmaker, "central")
    first = await record_run(sessionmaker, store_id, result_of(FIRST, date(2026, 5, 5)), AT)

    second = await record_run(
        sessionmaker, store_id, result_of(SECOND, date(2026, 5, 6)), AT + timedelta(days=1)
    )

    assert not second.first_run
    assert (second.previous_run_id, second.previous_as_of) == (first.run_id, date(2026, 5, 5))
    changed = {s.segment: (s.count, s.change) for s in second.segments if s.count or s.change}
    assert changed == {GW: (3, -1), IW: (2, 2), GD: (3, 0), IV: (4, 1)}
    assert SegmentCount("general_value", 0, 0) in second.segments
    # Biggest first; ties in the model's order of the source, then of the target.
    assert second.moves == (
        SegmentMove(GW, IW, 2),
        SegmentMove(GD, IV, 1),
        SegmentMove(GD, GW, 1),
    )
    assert second.moved == 4
    assert second.arrivals == (SegmentMove(NEW, GD, 2), SegmentMove(NEW, IV, 1))
    assert second.new_customers == 3
    assert second.gone == 1
    assert await members(sessionmaker, second.run_id) == SECOND


async def test_only_the_top_moves_are_listed_but_every_mover_is_counted(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id = await add_store(sessionmaker, "central")
    await record_run(sessionmaker, store_id, result_of(FIRST, date(2026, 5, 5)), AT)

    second = await record_run(
        sessionmaker, store_id, result_of(SECOND, date(2026, 5, 6)), AT, top=1
    )

    assert second.moves == (SegmentMove(GW, IW, 2),)
    assert second.moved == 4


async def test_runs_compare_within_their_own_store_and_model_and_old_members_are_dropped(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    central = await add_store(sessionmaker, "central")
    river = await add_store(sessionmaker, "river")
    day = date(2026, 5, 5)
    first = await record_run(sessionmaker, central, result_of(FIRST, day), AT)

    other_store = await record_run(sessionmaker, river, result_of(SECOND, day), AT)
    every_store = await record_run(sessionmaker, None, result_of(SECOND, day), AT)
    quintile = {1: "champions", 2: "hibernating"}
    other_model = await record_run(sessionmaker, central, result_of(quintile, day, "quintile"), AT)
    assert [other_store.first_run, every_store.first_run, other_model.first_run] == [True] * 3

    second = await record_run(sessionmaker, central, result_of(SECOND, day), AT)
    third = await record_run(sessionmaker, central, result_of(SECOND, day), AT)
    again = await record_run(sessionmaker, None, result_of(FIRST, day), AT)

    assert second.previous_run_id == first.run_id
    assert third.previous_run_id == second.run_id
    assert (third.moved, third.arrivals, third.gone) == (0, (), 0)
    assert all(s.change == 0 for s in third.segments)
    assert again.previous_run_id == every_store.run_id
    # Members of the newest two runs of a scope stay; the runs themselves (with counts) stay.
    assert await members(sessionmaker, first.run_id) == {}
    assert await members(sessionmaker, second.run_id) == SECOND
    assert await members(sessionmaker, third.run_id) == SECOND
    assert await members(sessionmaker, other_store.run_id) == SECOND
    assert await members(sessionmaker, other_model.run_id) == quintile
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(models.RfmRun)) == 7


async def test_a_run_can_share_the_caller_s_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id = await add_store(sessionmaker, "central")
    async with sessionmaker() as session:
        async with session.begin():
            await record_run(session, store_id, result_of(FIRST, date(2026, 5, 5)), AT)
        async with session.begin():
            rolled_back = await record_run(
                session, store_id, result_of(SECOND, date(2026, 5, 6)), AT
            )
            await session.rollback()

    assert rolled_back.previous_run_id is not None
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(models.RfmRun)) == 1


async def test_25000_customers_are_recorded_and_compared_in_bulk(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id = await add_store(sessionmaker, "central")
    n = 25_000
    names = [s.id for s in CLASSIC8_SEGMENTS]
    before = {c: names[c % 8] for c in range(1, n + 1)}
    # Every seventh customer moves one segment on (eight different pairs); 500 new ones join.
    after = {c: names[(c + (c % 7 == 0)) % 8] for c in range(1, n + 1)}
    after |= {c: names[0] for c in range(n + 1, n + 501)}
    await record_run(sessionmaker, store_id, result_of(before, date(2026, 5, 5)), AT)

    movement = await record_run(sessionmaker, store_id, result_of(after, date(2026, 5, 6)), AT)

    pairs = Counter((before[c], after[c]) for c in before if before[c] != after[c])
    assert len(pairs) == 8
    assert movement.moved == sum(pairs.values()) == n // 7
    assert len(movement.moves) == 5
    assert [m.customers for m in movement.moves] == sorted(pairs.values(), reverse=True)[:5]
    assert all(pairs[m.source, m.target] == m.customers for m in movement.moves)
    assert movement.arrivals == (SegmentMove(NEW, names[0], 500),)
    assert len(await members(sessionmaker, movement.run_id)) == n + 500


async def add_customer(session: AsyncSession, telegram_id: int) -> int:
    customer = models.Customer(telegram_id=telegram_id, created_at=AT, updated_at=AT)
    session.add(customer)
    await session.flush()
    return customer.id


async def add_order(
    session: AsyncSession,
    store_id: int,
    customer_id: int,
    number: int,
    total: int,
    completed: datetime | None,
    status: str = "completed",
    currency: str = "CNY",
) -> None:
    session.add(
        models.Order(
            number=f"A{number:03d}",
            store_id=store_id,
            customer_id=customer_id,
            idempotency_key=f"rfm:{number}",
            status=status,
            fulfilment="pickup",
            subtotal_minor=total,
            total_minor=total,
            currency=currency,
            placed_at=(completed or AT) - timedelta(minutes=20),
            completed_at=completed,
        )
    )
    await session.flush()


async def test_the_summary_counts_completed_orders_per_customer_by_local_day(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    central = await add_store(sessionmaker, "central", settings={"rfm_model": "quintile"})
    uptown = await add_store(sessionmaker, "uptown", currency="USD")
    async with sessionmaker() as session, session.begin():
        li, mei = await add_customer(session, 1), await add_customer(session, 2)
        # 2026-05-03 16:30 UTC is 2026-05-04 00:30 in Shanghai.
        await add_order(session, central, li, 1, 1250, datetime(2026, 5, 3, 16, 30, tzinfo=UTC))
        await add_order(session, central, li, 2, 800, datetime(2026, 4, 20, 3, 0, tzinfo=UTC))
        await add_order(session, central, mei, 3, 999, datetime(2026, 4, 1, 3, 0, tzinfo=UTC))
        await add_order(session, central, mei, 4, 5000, None, status="rejected")
        await add_order(session, uptown, mei, 5, 700, AT, currency="USD")

    summary, currency = await customer_summary(sessionmaker, "central", AT)

    assert currency == "CNY"
    rows = summary.sort_values("customer_id").to_dict("records")
    assert rows == [
        {
            "customer_id": li,
            "last_date": pd.Timestamp("2026-05-04"),
            "frequency": 2,
            "monetary": 20.5,
        },
        {
            "customer_id": mei,
            "last_date": pd.Timestamp("2026-04-01"),
            "frequency": 1,
            "monetary": 9.99,
        },
    ]
    scope = await rfm_scope(sessionmaker, "central", AT)
    assert (scope.store_id, scope.store_name, scope.model) == (central, "Central", "quintile")
    assert scope.as_of(AT) == date(2026, 5, 5)  # the day after the Shanghai today
    assert scope.as_of(datetime(2026, 5, 4, 16, 5, tzinfo=UTC)) == date(2026, 5, 6)
    result = rfm_from_summary(summary, scope.as_of(AT), scope.model)
    assert result.customers["recency_days"].tolist() == [1, 34]

    every = await rfm_scope(sessionmaker, None, AT)
    assert (every.store_id, every.model, every.timezone) == (None, "classic8", "Asia/Shanghai")
    with pytest.raises(MixedCurrenciesError) as mixed:
        await customer_summary(sessionmaker, None, AT)
    assert isinstance(mixed.value, ValueError)
    assert mixed.value.currencies == ["CNY", "USD"]
    with pytest.raises(UnknownStoreError):
        await customer_summary(sessionmaker, "nowhere", AT)
    with pytest.raises(UnknownStoreError):
        await rfm_scope(sessionmaker, "nowhere", AT)
    await add_store(sessionmaker, "river")
    empty, no_currency = await customer_summary(sessionmaker, "river", AT)
    assert empty.empty
    assert no_currency is None


async def test_the_rfm_reply_names_mixed_currencies_and_customers_who_left(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    central = await add_store(sessionmaker, "central")
    uptown = await add_store(sessionmaker, "uptown", currency="USD")
    async with sessionmaker() as session, session.begin():
        li, mei = await add_customer(session, 1), await add_customer(session, 2)
        await add_order(session, central, li, 1, 1250, AT - timedelta(days=3))
        await add_order(session, central, mei, 2, 800, AT - timedelta(days=1))
        await add_order(session, uptown, mei, 3, 700, AT, currency="USD")

    async def reply(store_code: str | None, locale: str = "en") -> str:
        calls = await rfm_calls(
            sessionmaker,
            engine,
            Translator.default(),
            store_code=store_code,
            chat_id=77,
            locale=locale,
            now=AT,
        )
        [call] = calls
        assert (call.method, call.params["chat_id"]) == ("sendMessage", 77)
        return str(call.params["text"])

    assert await reply(None) == (
        "Completed orders are in several currencies (CNY, USD): "
        "ask for one store with /rfm store-code."
    )
    first = await reply("central")
    assert "• General develop: 1 (50.0%) new" in first  # Mei: the more recent
    assert "• Important win-back: 1 (50.0%) new" in first  # Li: the bigger spender
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(models.Order).where(models.Order.customer_id == li).values(status="cancelled")
        )

    second = await reply("central", "zh-CN")

    assert "• 一般发展客户：0（0.0%）▼ 1" in second
    assert "• 重要挽留客户：0（0.0%）▼ 1" in second
    assert "• 一般挽留客户：1（100.0%）▲ 1" in second  # alone, Mei is at every mean: all low
    assert "主要分群变动（更换分群的客户：1 位）：" in second
    assert "• 一般发展客户 → 一般挽留客户：1" in second
    assert "上次计算中的 1 位客户现已没有已完成订单。" in second
