"""`o2o simulate`: reproducible histories that keep the bot's own invariants, on both backends."""

from __future__ import annotations

import itertools
import os
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.simulate import SIM_TELEGRAM_BASE, SimulationError, SimulationSummary, simulate
from domain.schedule import is_open
from domain.surveys import SURVEY_LIFETIME, outside_quiet_hours

END = date(2026, 3, 2)  # a Monday: the cut (08:00 in Shanghai) falls inside opening hours
CUT = datetime(2026, 3, 2, tzinfo=UTC)

# The statuses an order's events go through, in order (the SLA's placed -> placed aside).
ORDER_PATHS = {
    "placed": [("placed",)],
    "accepted": [("placed", "accepted")],
    "ready": [("placed", "accepted", "ready")],
    "completed": [("placed", "accepted", "ready", "completed")],
    "rejected": [("placed", "rejected")],
    "cancelled": [("placed", "cancelled"), ("placed", "accepted", "cancelled")],
    "no_show": [("placed", "accepted", "ready", "no_show")],
}
RESERVATION_PATHS = {
    "requested": [("requested",)],
    "confirmed": [("requested", "confirmed")],
    "seated": [("requested", "confirmed", "seated")],
    "completed": [
        ("requested", "confirmed", "seated", "completed"),
        ("requested", "confirmed", "completed"),
    ],
    "declined": [("requested", "declined")],
    "cancelled": [("requested", "cancelled"), ("requested", "confirmed", "cancelled")],
    "no_show": [("requested", "confirmed", "no_show")],
}
ORDER_STAMPS = ("accepted_at", "ready_at", "completed_at", "rejected_at", "cancelled_at")
RESERVATION_STAMPS = ("confirmed_at", "seated_at", "completed_at", "declined_at", "cancelled_at")
DUMPED = (
    models.Store,
    models.StoreProduct,
    models.Customer,
    models.Order,
    models.OrderLine,
    models.OrderEvent,
    models.Survey,
    models.Reservation,
)


async def simulate_into(url: str, *, customers: int, days: int, seed: int) -> SimulationSummary:
    """Migrate the database at `url` and simulate into it."""
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        return await simulate(
            create_sessionmaker(engine), customers=customers, days=days, seed=seed, end=END
        )
    finally:
        await engine.dispose()


async def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the simulation touches, read back through the models' column types."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = {}
            for model in DUMPED:
                table = model.__table__
                query = select(table).order_by(*table.primary_key.columns)
                tables[table.name] = [tuple(row) for row in await connection.execute(query)]
            return tables
    finally:
        await engine.dispose()


async def test_the_same_seed_writes_the_same_rows_and_another_seed_differs(
    database_url: str, tmp_path: Path
) -> None:
    # The first run is on the backend under test, the twin always on SQLite: the same rows on
    # both means the history depends on nothing but the arguments.
    first = await simulate_into(database_url, customers=150, days=30, seed=5)
    twin_url = f"sqlite+aiosqlite:///{tmp_path / 'twin.sqlite3'}"
    twin = await simulate_into(twin_url, customers=150, days=30, seed=5)
    other_url = f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}"
    await simulate_into(other_url, customers=150, days=30, seed=6)

    rows, twin_rows, other_rows = (
        await dump(database_url),
        await dump(twin_url),
        await dump(other_url),
    )
    assert first.orders > 100
    assert (first.orders_by_status, first.surveys_by_status) == (
        twin.orders_by_status,
        twin.surveys_by_status,
    )
    for name in rows:
        assert rows[name] == twin_rows[name], f"{name} differs between two runs with one seed"
    assert rows["orders"] != other_rows["orders"]
    assert rows["customers"] != other_rows["customers"]


def _ordered(moments: Sequence[datetime | None]) -> bool:
    present = [moment for moment in moments if moment is not None]
    return present == sorted(present)


async def test_the_history_keeps_the_bots_invariants(
    sessionmaker: async_sessionmaker[AsyncSession], db_backend: str
) -> None:
    summary = await simulate(sessionmaker, customers=400, days=60, seed=11, end=END)
    start = CUT - timedelta(days=60)

    async with sessionmaker() as session:
        stores = {s.id: s for s in (await session.scalars(select(models.Store))).all()}
        products = {p.id: p for p in (await session.scalars(select(models.Product))).all()}
        prices = {
            (link.store_id, link.product_id): link.price_override_minor
            or products[link.product_id].price_minor
            for link in (await session.scalars(select(models.StoreProduct))).all()
        }
        tables: dict[int, dict[str, models.StoreTable]] = defaultdict(dict)
        for table in (await session.scalars(select(models.StoreTable))).all():
            tables[table.store_id][table.label] = table
        customers = {c.id: c for c in (await session.scalars(select(models.Customer))).all()}
        orders = (await session.scalars(select(models.Order).order_by(models.Order.id))).all()
        lines: dict[int, list[models.OrderLine]] = defaultdict(list)
        for line in (await session.scalars(select(models.OrderLine))).all():
            lines[line.order_id].append(line)
        order_events: dict[int, list[models.OrderEvent]] = defaultdict(list)
        booking_events: dict[int, list[models.OrderEvent]] = defaultdict(list)
        events = (
            await session.scalars(select(models.OrderEvent).order_by(models.OrderEvent.id))
        ).all()
        for event in events:
            if event.order_id is not None:
                order_events[event.order_id].append(event)
            else:
                assert event.reservation_id is not None
                booking_events[event.reservation_id].append(event)
        surveys = (await session.scalars(select(models.Survey))).all()
        bookings = (await session.scalars(select(models.Reservation))).all()
        raw = None
        if db_backend == "sqlite":
            raw = (
                await session.execute(
                    text("SELECT (SELECT placed_at FROM orders LIMIT 1), created_at FROM stores")
                )
            ).first()

    # Everyone is simulated, and all of them are accounted for.
    assert len(customers) == summary.customers == 400
    assert all(c.telegram_id >= SIM_TELEGRAM_BASE for c in customers.values())
    assert {c.language for c in customers.values()} == {"en", "zh-CN"}
    assert len(orders) == summary.orders
    assert len(events) == summary.order_events
    assert len(bookings) == summary.reservations
    by_status: dict[str, int] = defaultdict(int)
    for order in orders:
        by_status[order.status] += 1
    assert {k: v for k, v in summary.orders_by_status.items() if v} == dict(by_status)
    assert {"completed", "rejected", "cancelled", "no_show"} <= set(by_status)
    assert by_status["completed"] / len(orders) > 0.85
    if raw is not None:  # moments written in bulk look exactly like those the ORM writes
        pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"
        assert re.fullmatch(pattern, raw[0])
        assert re.fullmatch(pattern, raw[1])

    for order in orders:
        store = stores[order.store_id]
        settings = store.settings
        placed = order.placed_at
        assert start <= placed < CUT
        assert is_open(store.opening_hours, placed, store.timezone), "placed while closed"
        if order.status in ("placed", "accepted", "ready"):
            assert CUT - placed < timedelta(hours=3), "only the last orders may still be open"
        # Timestamps: the ones of the path, in order.
        stamps = {name for name in ORDER_STAMPS if getattr(order, name) is not None}
        if order.no_show_at is not None:
            stamps.add("no_show_at")
        expected = {
            "placed": [set()],
            "accepted": [{"accepted_at"}],
            "ready": [{"accepted_at", "ready_at"}],
            "completed": [{"accepted_at", "ready_at", "completed_at"}],
            "rejected": [{"rejected_at"}],
            "cancelled": [{"cancelled_at"}, {"accepted_at", "cancelled_at"}],
            "no_show": [{"accepted_at", "ready_at", "no_show_at"}],
        }[order.status]
        assert stamps in expected, (order.id, order.status, stamps)
        assert _ordered(
            [placed, order.accepted_at, order.ready_at, order.completed_at, order.no_show_at]
        )
        assert _ordered([placed, order.accepted_at, order.cancelled_at])
        assert _ordered([placed, order.rejected_at])
        assert (order.reject_reason is not None) == (order.status == "rejected")
        assert (order.pickup_code is not None) == (order.ready_at is not None)
        if order.accepted_at is not None:
            assert order.eta_minutes
            assert order.ready_by == order.accepted_at + timedelta(minutes=order.eta_minutes)
        # Money: catalog prices, lines summed, the delivery fee on top, the store's currency.
        order_lines = lines[order.id]
        assert 1 <= len(order_lines) <= 4
        for line in order_lines:
            assert line.unit_price_minor == prices[(order.store_id, line.product_id)]
            assert line.line_total_minor == line.unit_price_minor * line.quantity
        assert order.subtotal_minor == sum(line.line_total_minor for line in order_lines)
        assert order.total_minor == order.subtotal_minor + order.delivery_fee_minor
        assert order.currency == store.currency
        assert order.fulfilment in settings["fulfilment"]
        if order.fulfilment == "delivery":
            assert order.delivery_address
            assert order.delivery_fee_minor == settings["delivery_fee_minor"]
            assert order.subtotal_minor >= settings["delivery_min_order_minor"]
        else:
            assert order.delivery_fee_minor == 0
            assert order.delivery_address is None
        if order.fulfilment == "dine_in":
            assert order.table_label in tables[order.store_id]
        else:
            assert order.table_label is None
        # Events: one per transition, by the actors the bot writes, at the row's moments.
        history = order_events[order.id]
        first = history[0]
        assert (first.from_status, first.to_status, first.at) == (None, "placed", placed)
        assert first.actor == f"customer:{order.customer_id}"
        moves = [e for e in history[1:] if (e.from_status, e.to_status) != ("placed", "placed")]
        for event in history[1:]:
            if (event.from_status, event.to_status) == ("placed", "placed"):
                assert (event.actor, event.note) == ("system:sla", "reannounced")
        path = ("placed", *(e.to_status for e in moves))
        assert path in ORDER_PATHS[order.status], (order.id, path)
        assert [e.from_status for e in moves] == list(path[:-1])
        assert _ordered([e.at for e in history])
        assert order.version == len(moves)
        for event in moves:
            stamp = f"{event.to_status}_at"
            assert getattr(order, stamp) == event.at
            assert re.fullmatch(r"(staff|customer|system):\w+", event.actor)

    # Surveys: only after finished visits, outside the store's quiet hours; scores 1-5 only when
    # answered; times in order.
    completed_orders = {o.id for o in orders if o.status == "completed"}
    visited_bookings = {r.id for r in bookings if r.status in ("seated", "completed")}
    done_at = {o.id: o.completed_at for o in orders}
    survey_status: dict[str, int] = defaultdict(int)
    for survey in surveys:
        survey_status[survey.status] += 1
        if survey.order_id is not None:
            assert survey.order_id in completed_orders, "a survey for an unfinished order"
            assert survey.due_at >= done_at[survey.order_id]
        else:
            assert survey.reservation_id in visited_bookings
        store = stores[survey.store_id]
        quiet = (store.settings["survey_quiet_start"], store.settings["survey_quiet_end"])
        assert outside_quiet_hours(survey.due_at, *quiet, store.timezone) == survey.due_at
        assert survey.expires_at is not None
        assert survey.due_at < survey.expires_at <= survey.due_at + SURVEY_LIFETIME
        assert customers[survey.customer_id].surveys_enabled
        assert (survey.score is not None) == (survey.status == "answered")
        assert survey.score is None or 1 <= survey.score <= 5
        assert (survey.sent_at is None) == (survey.status in ("scheduled", "cancelled"))
        assert _ordered([survey.due_at, survey.sent_at, survey.answered_at])
        if survey.status == "expired":
            assert survey.expires_at is not None
            assert survey.expires_at <= CUT
        if survey.answered_at is not None:
            assert survey.answered_at < CUT
    assert {"answered", "expired"} <= set(survey_status)
    assert sum(survey_status.values()) == summary.surveys
    rejected_ids = {o.id for o in orders if o.status == "rejected"}
    assert not rejected_ids & {s.order_id for s in surveys}

    # Bookings: allocated like the bot (no table held twice at once), paths of the domain.
    held: dict[int, list[models.Reservation]] = defaultdict(list)
    for booking in bookings:
        assert booking.requested_at + timedelta(minutes=15) <= booking.starts_at
        assert booking.requested_at < CUT
        history = booking_events[booking.id]
        path = tuple(e.to_status for e in history)
        assert path in RESERVATION_PATHS[booking.status], (booking.id, path)
        assert history[0].actor == f"customer:{booking.customer_id}"
        assert _ordered([e.at for e in history])
        assert booking.version == len(history) - 1
        assert _ordered([booking.requested_at, booking.confirmed_at, booking.seated_at])
        assert _ordered([booking.requested_at, booking.confirmed_at, booking.completed_at])
        for name in RESERVATION_STAMPS:
            moment = getattr(booking, name)
            assert (moment is not None) == (name.removesuffix("_at") in path)
        if booking.no_show_at is not None:
            assert booking.no_show_at >= booking.starts_at
        if booking.kind == "table":
            table = next(t for t in tables[booking.store_id].values() if t.id == booking.table_id)
            assert booking.party_size <= table.capacity
            assert booking.resource == table.label
            if booking.status not in ("declined", "cancelled"):
                held[table.id].append(booking)
        else:
            assert booking.service_id is not None
            assert booking.table_id is None
    assert {r.status for r in bookings} >= {"completed", "no_show"}
    for same_table in held.values():
        same_table.sort(key=lambda r: r.starts_at)
        for before, after in itertools.pairwise(same_table):
            end = before.starts_at + timedelta(minutes=before.duration_minutes)
            assert end <= after.starts_at, f"table booked twice: {before.id} and {after.id}"

    # Simulated data once is enough: a second run is refused before writing anything.
    with pytest.raises(SimulationError, match="simulated customers already"):
        await simulate(sessionmaker, customers=10, days=5, seed=1, end=END)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No O2O_* settings from the environment or a stray .env; returns a database path."""
    for name in list(os.environ):
        if name.startswith("O2O_") and not name.startswith("O2O_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("O2O_LOG_LEVEL", "WARNING")
    return tmp_path / "sim.sqlite3"


def test_the_command_simulates_once_with_a_progress_bar(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("O2O_DATABASE_URL", f"sqlite:///{clean_env}")
    argv = ["simulate", "--customers", "40", "--days", "7", "--seed", "2", "--end", "2026-03-02"]

    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "customers    40" in out
    assert "orders " in out
    assert "seconds" in out
    assert "100%" in err

    monkeypatch.delenv("O2O_DATABASE_URL")
    assert main([*argv, "--db", f"sqlite:///{clean_env}"]) == 2
    out, err = capsys.readouterr()
    assert err.strip().count("\n") == 0
    assert "simulated customers already" in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--customers", "0", "--days", "5"], "--customers"),
        (["--customers", "10", "--days", "-1"], "--days"),
        (["--customers", "10", "--days", "5", "--seed", "-3"], "--seed"),
        (["--customers", "10", "--days", "5", "--db", "mysql://x/y"], "--db"),
        (["--customers", "10", "--days", "5", "--end", "2026-13-01"], "--end"),
        (["--days", "5"], "--customers"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(
    clean_env: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    argv = ["simulate", *arguments]
    if "--db" not in arguments:
        argv += ["--db", f"sqlite:///{clean_env}"]
    with pytest.raises(SystemExit) as exited:  # argparse exits itself; main() returns the code
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err.splitlines()[-1]
    assert not clean_env.exists(), "nothing is created for refused arguments"
