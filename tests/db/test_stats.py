"""The stats query layer on real databases agrees with the DataFrame KPIs and the hand figures."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics.kpis import FIGURE_KEYS, build_report
from analytics.periods import PeriodError
from bot.db import models
from bot.db.stats import (
    UnknownStoreError,
    export_orders,
    export_orders_csv,
    load_report,
    resolve_scope,
)
from tests.analytics import sample

PERIOD_TEXT = sample.PERIOD.label


async def insert_sample(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The stores, orders, lines, surveys and reservations of tests/analytics/sample.py."""
    at = datetime(2026, 4, 1, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        store_ids = {}
        for ref in sample.STORES:
            store = models.Store(
                code=ref.code,
                name=ref.name,
                timezone=ref.timezone,
                currency=ref.currency,
                created_at=at,
            )
            session.add(store)
            await session.flush()
            store_ids[ref.code] = store.id
        customer = models.Customer(telegram_id=1001, first_name="Li", created_at=at, updated_at=at)
        session.add(customer)
        await session.flush()
        for row in sample.ORDERS:
            oid, store, status, placed, accepted, completed, rejected, cancelled = row[:8]
            total, currency, survey_status, score = row[8:]
            session.add(
                models.Order(
                    id=oid,
                    number=f"A{oid:03d}",
                    store_id=store_ids[store],
                    customer_id=customer.id,
                    idempotency_key=f"sample:{oid}",
                    status=status,
                    fulfilment="pickup",
                    subtotal_minor=total,
                    total_minor=total,
                    currency=currency,
                    placed_at=placed,
                    accepted_at=accepted,
                    completed_at=completed,
                    rejected_at=rejected,
                    cancelled_at=cancelled,
                )
            )
            await session.flush()
            if survey_status is not None:
                session.add(
                    models.Survey(
                        order_id=oid,
                        customer_id=customer.id,
                        store_id=store_ids[store],
                        status=survey_status,
                        due_at=completed,
                        score=score,
                    )
                )
        for order_id, name, quantity, line_total in sample.LINES:
            session.add(
                models.OrderLine(
                    order_id=order_id,
                    name=name,
                    unit_price_minor=line_total // quantity,
                    quantity=quantity,
                    line_total_minor=line_total,
                )
            )
        for store, starts_at, status in sample.RESERVATIONS:
            session.add(
                models.Reservation(
                    store_id=store_ids[store],
                    customer_id=customer.id,
                    kind="table",
                    starts_at=starts_at,
                    status=status,
                    requested_at=starts_at - timedelta(days=1),
                )
            )


def pure_report(store: str | None) -> Any:
    refs = {ref.code: ref for ref in sample.STORES}
    return build_report(
        sample.orders_frame(store),
        sample.lines_frame(),
        sample.reservations_frame(store),
        sample.PERIOD,
        store=refs[store] if store else None,
        stores=sample.STORES,
        currency=refs[store].currency if store else "CNY",
    )


async def test_the_report_from_the_database_equals_the_dataframe_report(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await insert_sample(sessionmaker)

    report = await load_report(sessionmaker, PERIOD_TEXT, None, sample.NOW)

    assert report == pure_report(None)
    document = report.to_json()
    assert document["orders_placed"] == sample.EXPECTED["orders_placed"]
    assert document["apt_median_minutes"] == 25.5
    assert document["avg_order_value_minor"] == 2667
    assert document["top_products"] == sample.EXPECTED["top_products"]
    assert document["previous"]["top_products"] == sample.EXPECTED_PREVIOUS["top_products"]
    assert [p.day.isoformat() for p in report.daily] == ["2026-05-04", "2026-05-05", "2026-05-06"]
    assert report.current.other_currency_orders == 1


@pytest.mark.parametrize("store", ["central", "river", "uptown"])
async def test_a_store_filter_gives_that_store_s_figures(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], store: str
) -> None:
    await insert_sample(sessionmaker)

    report = await load_report(engine, PERIOD_TEXT, store, sample.NOW)

    assert report == pure_report(store)
    assert report.store is not None
    assert report.store.code == store


async def test_a_quiet_period_is_all_zeros_and_nulls(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await insert_sample(sessionmaker)

    report = await load_report(engine, "2027-01-01..2027-01-07", None, sample.NOW)

    document = report.to_json()
    assert {key: document[key] for key in ("orders_placed", "revenue_minor", "reservations")} == {
        "orders_placed": 0,
        "revenue_minor": 0,
        "reservations": 0,
    }
    assert document["conversion_rate"] is None
    assert document["previous"]["orders_placed"] == 0
    assert len(report.daily) == 7


async def test_an_empty_database_reports_nothing_in_utc(engine: AsyncEngine) -> None:
    report = await load_report(engine, "7d", None, sample.NOW)

    assert report.period.timezone == "UTC"
    assert report.currency is None
    assert report.current.orders_placed == 0
    assert report.stores == ()


async def test_the_time_zone_is_the_store_s_else_the_shared_one_else_utc(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await insert_sample(sessionmaker)

    shared = await resolve_scope(engine, "today", None, sample.NOW)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(models.Store).where(models.Store.code == "uptown").values(timezone="Asia/Tokyo")
        )
    mixed = await resolve_scope(engine, "today", None, sample.NOW)
    one = await resolve_scope(engine, "today", "uptown", sample.NOW)

    assert shared.timezone == "Asia/Shanghai"
    assert mixed.timezone == "UTC"
    assert (one.timezone, one.currency) == ("Asia/Tokyo", "USD")
    assert one.period.start == datetime(2026, 5, 5, 15, 0, tzinfo=UTC)


async def test_an_unknown_store_or_a_bad_period_is_refused(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await insert_sample(sessionmaker)

    with pytest.raises(UnknownStoreError, match=r"unknown store 'nowhere' \(stores: central, "):
        await load_report(engine, "7d", "nowhere", sample.NOW)
    with pytest.raises(PeriodError, match="today, Nd"):
        await load_report(engine, "last week", None, sample.NOW)


async def test_the_export_has_one_row_per_order_placed_with_utc_times_and_survey_columns(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await insert_sample(sessionmaker)

    data, result = await export_orders_csv(engine, PERIOD_TEXT, None, sample.NOW)

    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert result.rows == len(rows) == 7
    assert result.filename == "orders_all_2026-05-04..2026-05-06.csv"
    assert data.decode().splitlines()[0] == (
        "order_id,number,store,customer_id,status,fulfilment,placed_at,accepted_at,ready_at,"
        "completed_at,rejected_at,cancelled_at,total_minor,currency,survey_score,survey_status"
    )
    assert [int(row["order_id"]) for row in rows] == [1, 2, 3, 4, 10, 6, 5], "by placed_at"
    first = rows[0]
    assert first["store"] == "central"
    assert first["placed_at"] == "2026-05-04T01:00:00Z"
    assert first["completed_at"] == "2026-05-04T01:20:00Z"
    assert (first["ready_at"], first["rejected_at"], first["cancelled_at"]) == ("", "", "")
    assert (first["total_minor"], first["currency"]) == ("3000", "CNY")
    assert (first["survey_score"], first["survey_status"]) == ("5", "answered")
    by_id = {int(row["order_id"]): row for row in rows}
    assert (by_id[5]["survey_score"], by_id[5]["survey_status"]) == ("", "expired")
    assert (by_id[3]["survey_score"], by_id[3]["survey_status"]) == ("", "")
    assert by_id[3]["rejected_at"] == "2026-05-05T03:02:00Z"


async def test_an_export_of_one_store_writes_only_its_orders(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await insert_sample(sessionmaker)
    out = io.StringIO()

    result = await export_orders(engine, PERIOD_TEXT, "river", sample.NOW, out)

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(row["order_id"], row["status"]) for row in rows] == [
        ("3", "rejected"),
        ("6", "accepted"),
    ]
    assert result.filename == "orders_river_2026-05-04..2026-05-06.csv"


async def test_sub_second_times_are_floored_alike_in_the_figures_and_the_export(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await insert_sample(sessionmaker)
    async with sessionmaker() as session, session.begin():
        # 01:00:00.999999 -> 01:20:00.000001 is 1199.000002 s, but 1200 whole seconds.
        await session.execute(
            update(models.Order)
            .where(models.Order.id == 1)
            .values(
                placed_at=datetime(2026, 5, 4, 1, 0, 0, 999_999, tzinfo=UTC),
                completed_at=datetime(2026, 5, 4, 1, 20, 0, 1, tzinfo=UTC),
            )
        )

    report = await load_report(engine, PERIOD_TEXT, None, sample.NOW)
    data, _ = await export_orders_csv(engine, PERIOD_TEXT, None, sample.NOW)

    assert report.current.apt_minutes == sample.EXPECTED["apt_minutes"]
    first = next(csv.DictReader(io.StringIO(data.decode())))
    assert (first["placed_at"], first["completed_at"]) == (
        "2026-05-04T01:00:00Z",
        "2026-05-04T01:20:00Z",
    )


async def test_reading_stats_does_not_wait_for_a_writer(
    db_backend: str, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await insert_sample(sessionmaker)
    async with sessionmaker() as writer, writer.begin():
        # An update's transaction in progress: on SQLite it holds the write lock.
        await writer.execute(
            insert(models.Customer).values(
                telegram_id=2002, first_name="Ann", created_at=sample.NOW, updated_at=sample.NOW
            )
        )
        started = time.monotonic()
        report = await asyncio.wait_for(load_report(engine, PERIOD_TEXT, None, sample.NOW), 5)
        elapsed = time.monotonic() - started

    assert report.current.orders_placed == 7
    assert elapsed < 3, f"stats waited {elapsed:.1f} s for the writer on {db_backend}"


async def test_every_json_key_of_the_contract_is_present(engine: AsyncEngine) -> None:
    report = await load_report(engine, "today", None, sample.NOW)

    assert list(report.to_json()) == [*FIGURE_KEYS, "period", "store", "previous"]
