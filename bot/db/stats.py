"""Read side of /stats, `o2o stats` and `o2o export orders`: SQL aggregates into analytics.kpis.

Counting and summing happen in the database (exact integer sums); only small results come back:
one row per local day of the period (plus one for the whole previous period) with the order and
survey sums, the day's processing times as one comma-separated text (the exact median needs all
of them), product sums and reservation status counts. The pandas work then runs in a worker
thread, off the event loop.

The queries run concurrently, each on its own connection. On a SQLite file they use an engine
of their own, without the bot's BEGIN IMMEDIATE (which takes the write lock: reading a large
history through the bot's engine would stall every writer for the whole query, and serialise the
queries besides); its connections only read the database (and fill a temporary table of days).
Each query sees a consistent snapshot; the snapshots of the concurrent queries may differ by
writes committed in between (an order completed meanwhile).

With a store filter SQLite is steered to the placed_at index (see _store_condition) unless an
index on orders (store_id, placed_at) exists, which serves it better still.

Times are compared as stored (naive-UTC text on SQLite, timestamptz on PostgreSQL) and turned
into whole epoch seconds in SQL for durations (``unixepoch`` / ``EXTRACT(EPOCH ...)``), matching
the whole-second times of the CSV export.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    and_,
    case,
    cast,
    column,
    event,
    extract,
    func,
    insert,
    inspect,
    select,
    values,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from analytics.kpis import (
    CANCELLED,
    COMPLETED,
    DAY_COLUMNS,
    ORDER_COLUMNS,
    REJECTED,
    SURVEY_ANSWERED,
    SURVEY_SENT_STATUSES,
    TIME_COLUMNS,
    TOP_PRODUCTS,
    DailyPoint,
    IntArray,
    KpiFigures,
    StatsReport,
    StoreRef,
    choose_currency,
    daily_points,
    kpi_figures,
    rank_products,
    totals_of,
)
from analytics.periods import Period, parse_period
from bot.db import models
from bot.db.types import UtcDateTime

__all__ = [
    "DailyPoint",
    "ExportResult",
    "KpiFigures",
    "StatsReport",
    "StatsScope",
    "StoreRef",
    "UnknownStoreError",
    "export_orders",
    "export_orders_csv",
    "export_scope",
    "load_report",
    "report_for",
    "resolve_scope",
]

Database = AsyncEngine | async_sessionmaker[AsyncSession]

_orders = models.Order.__table__
_lines = models.OrderLine.__table__
_surveys = models.Survey.__table__
_reservations = models.Reservation.__table__
_stores = models.Store.__table__

PREVIOUS = -1  # the day index of the previous period's single row in the per-day query


class UnknownStoreError(LookupError):
    """No store has the code asked for; the message lists the codes there are."""


@dataclass(frozen=True)
class StatsScope:
    """What a report or an export covers: period, store (None: all), currency, time zone."""

    period: Period
    store: StoreRef | None
    stores: tuple[StoreRef, ...]
    currency: str | None

    @property
    def timezone(self) -> str:
        """The time zone the period's days are counted in."""
        return self.period.timezone


@dataclass(frozen=True)
class ExportResult:
    """How many order rows an export wrote, and for which scope."""

    rows: int
    scope: StatsScope

    @property
    def filename(self) -> str:
        """A file name for the CSV, e.g. ``orders_central_2026-05-01..2026-05-07.csv``."""
        store = self.scope.store.code if self.scope.store is not None else "all"
        return f"orders_{store}_{self.scope.period.range_text}.csv"


# --------------------------------------------------------------------------- scope


def _engine_of(db: Database) -> AsyncEngine:
    if isinstance(db, AsyncEngine):
        return db
    bind = db.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the sessionmaker is not bound to an AsyncEngine")
    return bind


async def _load_stores(reader: _Reader) -> tuple[StoreRef, ...]:
    query = select(_stores.c.code, _stores.c.name, _stores.c.timezone, _stores.c.currency)
    rows = await reader.all(query.order_by(_stores.c.code))
    return tuple(
        StoreRef(code, name, timezone, currency) for code, name, timezone, currency in rows
    )


def choose_timezone(store: StoreRef | None, stores: Sequence[StoreRef]) -> str:
    """The selected store's zone, else the one every store shares, else UTC."""
    if store is not None:
        return store.timezone
    zones = {s.timezone for s in stores}
    return zones.pop() if len(zones) == 1 else "UTC"


async def resolve_scope(
    db: Database, period_text: str, store_code: str | None, now: datetime
) -> StatsScope:
    """Find the store and parse the period in its zone; UnknownStoreError or PeriodError."""
    async with _reading(db) as reader:
        stores = await _load_stores(reader)
    store = None
    if store_code is not None:
        store = next((s for s in stores if s.code == store_code), None)
        if store is None:
            known = ", ".join(s.code for s in stores) or "none yet"
            raise UnknownStoreError(f"unknown store {store_code!r} (stores: {known})")
    period = parse_period(period_text, choose_timezone(store, stores), now)
    currency = (
        store.currency if store is not None else choose_currency([s.currency for s in stores])
    )
    return StatsScope(period=period, store=store, stores=stores, currency=currency)


# --------------------------------------------------------------------------- SQL pieces


def _epoch_seconds(value: Any, dialect: str) -> ColumnElement[Any]:
    """Whole UTC seconds since 1970 of a timestamp column, floored, as an integer."""
    if dialect == "sqlite":
        # Only "YYYY-MM-DD HH:MM:SS" of the stored text: SQLite rounds a fraction to whole
        # milliseconds first, which would turn 09:30:00.9999 into 09:30:01.
        whole = func.substr(value, 1, 19)
        if sqlite3.sqlite_version_info >= (3, 38):
            return func.unixepoch(whole)  # three times faster than strftime('%s', ...)
        return cast(func.strftime("%s", whole), Integer)
    return cast(func.floor(extract("epoch", value)), BigInteger)


def _concat(value: Any, dialect: str) -> Any:
    """The aggregate joining integer values into one comma-separated text.

    The exact median needs every processing time. Sent as one text per day they cost neither a
    sort in SQLite (a GROUP BY on the duration did: a third of the whole report's time) nor a
    Python object per order; numpy reads them back in milliseconds.
    """
    if dialect == "sqlite":
        return func.group_concat(value, ",")
    return func.string_agg(cast(value, Text), ",")


def _store_condition(table: Any, store_id: int | None, use_store_index: bool) -> Any:
    """``store_id = ?``, hiding the column from SQLite's planner unless it has a good index.

    Without statistics SQLite prefers ix_orders_store_status (store_id = ?) to the placed_at
    range and then reads every order the store ever had, for each day of the period. ``+ 0``
    keeps it on the placed_at index, unless an index on (store_id, placed_at) exists.
    """
    if store_id is None:
        return None
    column_ = table.c.store_id
    return column_ == store_id if use_store_index else (column_ + 0) == store_id


def _where(column_: Any, start: datetime, end: datetime, store: Any) -> Any:
    condition = and_(column_ >= start, column_ < end)
    return condition if store is None else and_(condition, store)


def _day_rows(period: Period) -> list[dict[str, Any]]:
    """(i, lo, hi) of each local day of the period."""
    bounds = period.day_bounds()
    return [{"i": i, "lo": bounds[i], "hi": bounds[i + 1]} for i in range(period.n_days)]


def _days_values(rows: Sequence[dict[str, Any]]) -> Any:
    """The day rows as a VALUES common table expression."""
    return (
        values(
            column("i", Integer), column("lo", UtcDateTime()), column("hi", UtcDateTime()),
            name="days",
        )
        .data([(row["i"], row["lo"], row["hi"]) for row in rows])
        .cte("days")
    )  # fmt: skip


# On SQLite the days go into a temporary table instead: scanned by its integer key, they come
# out in GROUP BY order, which spares sorting every order of the period (about a quarter of the
# per-day query's time on a large history).
_DAYS_TEMP = Table(
    "stats_days",
    MetaData(),
    Column("i", Integer, primary_key=True, autoincrement=False),
    Column("lo", UtcDateTime()),
    Column("hi", UtcDateTime()),
    prefixes=["TEMPORARY"],
)


def _order_day_measures(currency: str | None, dialect: str) -> dict[str, Any]:
    """DAY_COLUMNS of orders, then ``durations``: the day's processing times as text."""
    o = _orders.c
    completed = o.status == COMPLETED
    in_currency = and_(completed, o.currency == (currency or ""))
    placed = _epoch_seconds(o.placed_at, dialect)
    accept_seconds = _epoch_seconds(o.accepted_at, dialect) - placed
    processing = _epoch_seconds(o.completed_at, dialect) - placed
    finished = and_(completed, o.completed_at.is_not(None))
    return {
        "placed": func.count(),
        "completed": func.count().filter(completed),
        "rejected": func.count().filter(o.status == REJECTED),
        "cancelled": func.count().filter(o.status == CANCELLED),
        "accepted": func.count(o.accepted_at),
        "accept_seconds": func.sum(accept_seconds),
        "revenue_minor": func.sum(o.total_minor).filter(in_currency),
        "completed_in_currency": func.count().filter(in_currency),
        "durations": _concat(processing, dialect).filter(finished),
    }


def _survey_day_measures() -> dict[str, Any]:
    s = _surveys.c
    answered = s.status == SURVEY_ANSWERED
    return {
        "csat_responses": func.count(s.score).filter(answered),
        "csat_sum": func.sum(s.score).filter(answered),
        "csat_4_5": func.count().filter(and_(answered, s.score >= 4)),
        "surveys_sent": func.count().filter(s.status.in_(SURVEY_SENT_STATUSES)),
    }


def _days_query(days: Any, store: Any, measures: dict[str, Any], surveys: bool) -> Select[Any]:
    """Measures per row of ``days`` (the period's local days, and -1: the previous period)."""
    o = _orders.c
    on_day = and_(o.placed_at >= days.c.lo, o.placed_at < days.c.hi)
    if store is not None:
        on_day = and_(on_day, store)
    joined = days.join(_orders, on_day)
    if surveys:
        # Orders without a survey add nothing to these measures: an inner join skips them.
        joined = joined.join(_surveys, _surveys.c.order_id == o.id)
    labelled = (expr.label(name) for name, expr in measures.items())
    return select(days.c.i, *labelled).select_from(joined).group_by(days.c.i)


def _products_query(period: Period, store: Any, currency: str | None) -> Select[Any]:
    """Quantity and revenue per line name of the period's completed orders in the currency."""
    o, line = _orders.c, _lines.c
    return (
        select(line.name, func.sum(line.quantity), func.sum(line.line_total_minor))
        .select_from(_orders.join(_lines, line.order_id == o.id))
        .where(
            _where(o.placed_at, period.start, period.end, store),
            o.status == COMPLETED,
            o.currency == (currency or ""),
        )
        .group_by(line.name)
    )


def _reservations_query(period: Period, store_id: int | None) -> Select[Any]:
    """Reservations starting in either period, by period (1: current) and status."""
    r = _reservations.c
    current = case((r.starts_at >= period.start, 1), else_=0)
    # ix_reservations_store_starts (store_id, starts_at) serves the store filter as it is.
    store = None if store_id is None else r.store_id == store_id
    return (
        select(current, r.status, func.count())
        .where(_where(r.starts_at, period.previous().start, period.end, store))
        .group_by(current, r.status)
    )


async def _store_filter(reader: _Reader, store: StoreRef | None) -> tuple[int | None, Any]:
    """The store's id and the orders condition selecting it (None, None for all stores)."""
    if store is None:
        return None, None
    found = await reader.all(select(_stores.c.id).where(_stores.c.code == store.code))
    if not found:
        raise UnknownStoreError(f"unknown store {store.code!r}")
    store_id = int(found[0][0])
    return store_id, _store_condition(_orders, store_id, await _has_store_placed_index(reader))


async def _has_store_placed_index(reader: _Reader) -> bool:
    """Whether orders has an index starting with (store_id, placed_at)."""
    if reader.engine.dialect.name != "sqlite":
        return True  # PostgreSQL's planner has statistics and needs no steering

    def look(sync_conn: Any) -> bool:
        indexes = inspect(sync_conn).get_indexes("orders")
        return any(ix["column_names"][:2] == ["store_id", "placed_at"] for ix in indexes)

    async with reader.engine.connect() as conn:
        return bool(await conn.run_sync(look))


# --------------------------------------------------------------------------- connections


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


Work = tuple[Select[Any], Sequence[dict[str, Any]]]  # a query, and day rows to load first


@dataclass(frozen=True)
class _Reader:
    """The engine to read with, whether queries may run concurrently, where days live."""

    engine: AsyncEngine
    concurrent: bool
    temp_days: bool = False

    def days(self, rows: Sequence[dict[str, Any]]) -> tuple[Any, Sequence[dict[str, Any]]]:
        """The day rows as a FROM clause, and the rows a query must load before it runs."""
        if self.temp_days:
            return _DAYS_TEMP, rows
        return _days_values(rows), ()

    async def all(self, query: Select[Any], days: Sequence[dict[str, Any]] = ()) -> list[Any]:
        """One query's rows, on a connection of its own (fresh: its temporary table too)."""
        async with self.engine.connect() as conn:
            if days:
                await conn.run_sync(_DAYS_TEMP.create)
                await conn.execute(insert(_DAYS_TEMP), list(days))
            return list((await conn.execute(query)).all())

    async def run(self, work: Sequence[Work]) -> list[list[Any]]:
        """Every query's rows, concurrently where each can have its own connection."""
        if self.concurrent:
            return list(await asyncio.gather(*(self.all(query, days) for query, days in work)))
        return [await self.all(query, days) for query, days in work]


@asynccontextmanager
async def _reading(db: Database) -> AsyncIterator[_Reader]:
    """A reader for ``db`` (see the module docstring); its own engine on a SQLite file."""
    engine = _engine_of(db)
    if engine.dialect.name != "sqlite":
        yield _Reader(engine, concurrent=True)
        return
    database = engine.url.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(engine.url):
        # Another connection would see another (empty) database: read through the bot's.
        yield _Reader(engine, concurrent=False)
        return
    # NullPool: every connection is new, so a temporary table never outlives its query.
    reader = create_async_engine(engine.url, poolclass=NullPool)
    event.listen(reader.sync_engine, "connect", _sqlite_reader_pragmas)
    try:
        yield _Reader(reader, concurrent=True, temp_days=True)
    finally:
        await reader.dispose()


# --------------------------------------------------------------------------- report


def _add_day(
    days: IntArray, previous: dict[str, int], names: Sequence[str], row: Sequence[Any]
) -> None:
    """Put one per-day row (day index, then the named sums) into the array or the previous."""
    i, *numbers = (0 if value is None else int(value) for value in row)
    if i == PREVIOUS:
        previous.update(zip(names, numbers, strict=True))
    else:
        days[i, [DAY_COLUMNS.index(name) for name in names]] = numbers


def _histogram(texts: Sequence[str | None]) -> pd.Series:
    """Counts per processing time from the comma-separated texts of the per-day query."""
    arrays = [np.fromstring(text, dtype=np.int64, sep=",") for text in texts if text]
    if not arrays:
        return pd.Series([], dtype="int64")
    seconds, counts = np.unique(np.concatenate(arrays), return_counts=True)
    return pd.Series(counts.astype(np.int64), index=seconds)


def _product_sums(rows: Sequence[Any]) -> tuple[list[str], list[int], list[int]]:
    sums: dict[str, list[int]] = {}
    for name, quantity, revenue in rows:
        entry = sums.setdefault(str(name), [0, 0])
        entry[0] += 0 if quantity is None else int(quantity)
        entry[1] += 0 if revenue is None else int(revenue)
    names = list(sums)
    return names, [sums[n][0] for n in names], [sums[n][1] for n in names]


def _assemble(scope: StatsScope, results: dict[str, list[Any]]) -> StatsReport:
    """Build the report from the queries' rows (runs in a worker thread)."""
    period = scope.period
    sums = np.zeros((period.n_days, len(DAY_COLUMNS)), dtype=np.int64)
    previous_totals = dict.fromkeys(DAY_COLUMNS, 0)
    durations: dict[str, list[str | None]] = {"current": [], "previous": []}
    for row in results.get("order_days", []):
        *numbers, text = row
        durations["previous" if numbers[0] == PREVIOUS else "current"].append(text)
        _add_day(sums, previous_totals, _ORDER_DAY_COLUMNS, numbers)
    for row in results.get("survey_days", []):
        _add_day(sums, previous_totals, _SURVEY_DAY_COLUMNS, row)
    days = pd.DataFrame(sums, index=pd.Index(period.days, name="day"), columns=list(DAY_COLUMNS))

    reservations: dict[int, dict[str, int]] = {0: {}, 1: {}}
    for current, status, count in results["reservations"]:
        reservations[int(current)][str(status)] = int(count)

    def figures(which: str, totals: dict[str, int]) -> KpiFigures:
        names, quantities, revenues = _product_sums(results.get(f"products_{which}", []))
        return kpi_figures(
            totals,
            _histogram(durations[which]),
            rank_products(names, quantities, revenues, TOP_PRODUCTS),
            reservations[1 if which == "current" else 0],
            scope.currency,
        )

    return StatsReport(
        period=period,
        previous_period=period.previous(),
        store=scope.store,
        stores=scope.stores,
        currency=scope.currency,
        current=figures("current", totals_of(days)),
        previous=figures("previous", previous_totals),
        daily=daily_points(days),
    )


_ORDER_DAY_COLUMNS = tuple(_order_day_measures(None, "sqlite"))[:-1]  # not "durations"
_SURVEY_DAY_COLUMNS = tuple(_survey_day_measures())
assert _ORDER_DAY_COLUMNS + _SURVEY_DAY_COLUMNS == DAY_COLUMNS


async def report_for(db: Database, scope: StatsScope) -> StatsReport:
    """The StatsReport of a resolved scope."""
    dialect = _engine_of(db).dialect.name
    period, previous, currency = scope.period, scope.period.previous(), scope.currency
    async with _reading(db) as reader:
        store_id, store = await _store_filter(reader, scope.store)
        # The previous period gets queries of its own: with a history in both periods, the
        # two halves of the work then run side by side. (Cutting a period into more parts was
        # measured too: on two cores the extra concurrent queries cost more than they gained.)
        day_sets = [
            _day_rows(period),
            [{"i": PREVIOUS, "lo": previous.start, "hi": previous.end}],
        ]
        work: list[tuple[str, Work]] = [
            ("products_current", (_products_query(period, store, currency), ())),
            ("products_previous", (_products_query(previous, store, currency), ())),
        ]
        for kind, measures, surveys in (
            ("order_days", _order_day_measures(currency, dialect), False),
            ("survey_days", _survey_day_measures(), True),
        ):
            for day_rows in day_sets:
                days, load = reader.days(day_rows)
                work.append((kind, (_days_query(days, store, measures, surveys), load)))
        work.append(("reservations", (_reservations_query(period, store_id), ())))
        answers = await reader.run([item for _, item in work])
    results: dict[str, list[Any]] = {}
    for (kind, _), rows in zip(work, answers, strict=True):
        results.setdefault(kind, []).extend(rows)
    return await asyncio.to_thread(_assemble, scope, results)


async def load_report(
    db: Database, period_text: str, store_code: str | None, now: datetime
) -> StatsReport:
    """Figures of ``period_text`` (today, Nd, YYYY-MM-DD..YYYY-MM-DD) for a store or all stores.

    Raises PeriodError (a ValueError) for a bad period and UnknownStoreError for a bad store.
    """
    return await report_for(db, await resolve_scope(db, period_text, store_code, now))


# --------------------------------------------------------------------------- export


def _iso(seconds: Any) -> str:
    if seconds is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


def _export_query(scope: StatsScope, store: Any, dialect: str) -> Select[Any]:
    o, s = _orders.c, _surveys.c
    period = scope.period
    sent = s.status.in_(SURVEY_SENT_STATUSES)
    times = [_epoch_seconds(getattr(o, name), dialect).label(name) for name in TIME_COLUMNS]
    return (
        select(
            o.id,
            o.number,
            _stores.c.code,
            o.customer_id,
            o.status,
            o.fulfilment,
            *times,
            o.total_minor,
            o.currency,
            case((s.status == SURVEY_ANSWERED, s.score)),
            case((sent, s.status)),
        )
        .select_from(
            _orders.join(_stores, _stores.c.id == o.store_id).outerjoin(
                _surveys, s.order_id == o.id
            )
        )
        .where(_where(o.placed_at, period.start, period.end, store))
        .order_by(o.placed_at, o.id)
    )


async def export_orders(
    db: Database, period_text: str, store_code: str | None, now: datetime, out: TextIO
) -> ExportResult:
    """Write one CSV row per order placed in the period (ORDER_COLUMNS) to a text stream."""
    scope = await resolve_scope(db, period_text, store_code, now)
    return await export_scope(db, scope, out)


async def export_scope(db: Database, scope: StatsScope, out: TextIO) -> ExportResult:
    """export_orders for a resolved scope; times are whole-second ISO 8601 UTC, '' if unset."""
    dialect = _engine_of(db).dialect.name
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ORDER_COLUMNS)
    count = 0
    async with _reading(db) as reader:
        _, store = await _store_filter(reader, scope.store)
        query = _export_query(scope, store, dialect)
        async with reader.engine.connect() as conn:
            result = await conn.stream(query)
            async for chunk in result.partitions(5000):
                for row in chunk:
                    (oid, number, code, customer, status, fulfilment, *rest) = row
                    stamps, (total, currency, score, survey_status) = rest[:6], rest[6:]
                    writer.writerow(
                        [oid, number, code, customer, status, fulfilment]
                        + [_iso(v) for v in stamps]
                        + [total, currency, "" if score is None else score, survey_status or ""]
                    )
                count += len(chunk)
    return ExportResult(rows=count, scope=scope)


async def export_orders_csv(
    db: Database, period_text: str, store_code: str | None, now: datetime
) -> tuple[bytes, ExportResult]:
    """The export as UTF-8 CSV bytes (for sending as a document) and what it holds."""
    buffer = io.StringIO()
    result = await export_orders(db, period_text, store_code, now, buffer)
    return buffer.getvalue().encode("utf-8"), result
