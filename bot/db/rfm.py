"""Read and write side of RFM: the per-customer summary in SQL, and the runs /rfm keeps.

`customer_summary` aggregates completed orders per customer in the database (count, last time,
sum of ``total_minor``); only one row per customer comes back, ready for
``analytics.rfm.rfm_from_summary``. A customer's day is the local day of ``completed_at``
(``placed_at`` when unset) in the store's time zone, for every store the zone they share, else
UTC. Orders in several currencies are refused (``MixedCurrenciesError``): monetary would add
them up.

`record_run` stores one computation (`rfm_runs`: the counts per segment; `rfm_members`: each
customer's segment, inserted in bulk) and compares it with the previous run of the same scope
(store, or every store, and model): the change of each segment's size, the biggest moves of
customers between segments, and the customers new since then. The comparison is one pandas
merge in a worker thread. Only the members of the newest two runs of a scope are kept (older
members are deleted as a new run is recorded); the runs' counts are kept for good.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import ColumnElement, Select, Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.rfm import SEGMENTS, Model, RfmResult
from bot.db import models
from bot.db.stats import Database, UnknownStoreError, _reading, resolve_scope
from domain.money import minor_units
from domain.stores import StoreSettings

__all__ = [
    "NEW",
    "MixedCurrenciesError",
    "RfmMovement",
    "RfmScope",
    "SegmentCount",
    "SegmentMove",
    "compare_runs",
    "customer_summary",
    "record_run",
    "rfm_scope",
]

TOP_MOVES = 5
NEW = "new"  # the "from" of a customer who was not in the previous run
DEFAULT_MODEL: Model = "classic8"  # every store at once: the stores' models may differ

_runs = cast(Table, models.RfmRun.__table__)
_members = cast(Table, models.RfmMember.__table__)


class MixedCurrenciesError(ValueError):
    """Completed orders are in several currencies; monetary cannot add them up."""

    def __init__(self, currencies: list[str]) -> None:
        self.currencies = currencies
        super().__init__(f"completed orders are in several currencies ({', '.join(currencies)})")


# --------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class RfmScope:
    """Whose customers /rfm segments: a store (or every store), its model and time zone."""

    store_id: int | None  # None: every store
    store_name: str | None
    model: Model
    timezone: str

    def as_of(self, now: datetime) -> date:
        """The store-local day after ``now``: an order of today is 1 day old (recency 1)."""
        return now.astimezone(ZoneInfo(self.timezone)).date() + timedelta(days=1)


async def rfm_scope(db: Database, store_code: str | None, now: datetime) -> RfmScope:
    """The store's id, name, RFM model (its ``rfm_model`` setting) and time zone.

    Every store (``store_code`` None): classic8, in the zone the stores share, else UTC.
    Raises ``bot.db.stats.UnknownStoreError`` for an unknown code.
    """
    scope = await resolve_scope(db, "today", store_code, now)
    if store_code is None:
        return RfmScope(None, None, DEFAULT_MODEL, scope.timezone)
    stores = models.Store
    async with _reading(db) as reader:
        rows = await reader.all(
            select(stores.id, stores.name, stores.settings).where(stores.code == store_code)
        )
    if not rows:  # removed since resolve_scope looked
        raise UnknownStoreError(f"unknown store {store_code!r}")
    row = rows[0]
    model = cast(Model, StoreSettings.from_json(row.settings).rfm_model)
    return RfmScope(row.id, row.name, model, scope.timezone)


# --------------------------------------------------------------------------- summary


async def customer_summary(
    db: Database, store_code: str | None, now: datetime
) -> tuple[pd.DataFrame, str | None]:
    """Per customer ``customer_id``, ``last_date``, ``frequency``, ``monetary``; the currency.

    Completed orders of one store (``store_code``) or of every store, aggregated in SQL.
    Raises ``UnknownStoreError`` for an unknown store and ``MixedCurrenciesError`` when the
    orders are in more than one currency. ``now`` is what ``resolve_scope`` looks the store
    up with; the summary itself covers every completed order, whenever it was.
    """
    scope = await resolve_scope(db, "today", store_code, now)
    order = models.Order
    at = func.coalesce(order.completed_at, order.placed_at)
    query = (
        select(
            order.customer_id,
            order.currency,
            func.count().label("frequency"),
            func.max(at).label("last_at"),
            func.sum(order.total_minor).label("total_minor"),
        )
        .where(order.status == "completed")
        .group_by(order.customer_id, order.currency)
    )
    if store_code is not None:
        query = query.join(models.Store, models.Store.id == order.store_id).where(
            models.Store.code == store_code
        )
    async with _reading(db) as reader:
        rows = await reader.all(cast(Select[Any], query))
    frame = pd.DataFrame(rows, columns=["customer_id", "currency", "frequency", "last_at", "minor"])
    currencies = sorted(set(frame["currency"]))
    if len(currencies) > 1:
        raise MixedCurrenciesError(currencies)
    currency = currencies[0] if currencies else None
    scale = 10 ** minor_units(currency) if currency else 100
    last = pd.to_datetime(frame["last_at"], utc=True).dt.tz_convert(scope.timezone)
    summary = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("int64"),
            "last_date": last.dt.tz_localize(None).dt.normalize(),
            "frequency": frame["frequency"].astype("int64"),
            "monetary": frame["minor"].astype("float64") / scale,
        }
    )
    return summary, currency


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class SegmentCount:
    """A segment's size now and its change since the previous run (None: no previous run)."""

    segment: str
    count: int
    change: int | None


@dataclass(frozen=True)
class SegmentMove:
    """How many customers went from one segment (or ``NEW``) to another since the last run."""

    source: str
    target: str
    customers: int


@dataclass(frozen=True)
class RfmMovement:
    """A recorded run and how it differs from the previous run of the same scope and model."""

    run_id: int
    as_of: date
    model: Model
    customers: int
    previous_run_id: int | None
    previous_as_of: date | None
    segments: tuple[SegmentCount, ...]  # every segment of the model, in the model's order
    moves: tuple[SegmentMove, ...]  # the biggest moves between segments, biggest first
    moved: int  # customers in another segment than in the previous run
    arrivals: tuple[SegmentMove, ...]  # source NEW: customers not in the previous run
    gone: int  # customers of the previous run not in this one

    @property
    def first_run(self) -> bool:
        """True when there is no earlier run to compare with."""
        return self.previous_run_id is None

    @property
    def new_customers(self) -> int:
        """Customers not in the previous run (0 on the first run)."""
        return sum(move.customers for move in self.arrivals)


async def record_run(
    db: async_sessionmaker[AsyncSession] | AsyncSession,
    store_id: int | None,
    result: RfmResult,
    now: datetime,
    *,
    top: int = TOP_MOVES,
) -> RfmMovement:
    """Store ``result`` as a run of ``store_id`` (None: every store) and compare it with the
    previous run of that scope and model.

    Given a sessionmaker it commits its own transaction; given a session it only flushes (the
    caller commits).
    """
    if isinstance(db, AsyncSession):
        stored = await _store(db, store_id, result, now)
    else:
        async with db() as session, session.begin():
            stored = await _store(session, store_id, result, now)
    # Compared outside the transaction (with a sessionmaker): SQLite's write lock is not held
    # for the pandas work.
    return await asyncio.to_thread(_movement, result, stored, top)


def _same_scope(store_id: int | None, model: str) -> ColumnElement[bool]:
    where_store = _runs.c.store_id.is_(None) if store_id is None else _runs.c.store_id == store_id
    return where_store & (_runs.c.model == model)


@dataclass(frozen=True)
class _Stored:
    """A run as written, with what the comparison needs of the previous run."""

    run_id: int
    current: pd.DataFrame
    counts: dict[str, int]
    previous_run_id: int | None = None
    previous_as_of: date | None = None
    previous_counts: dict[str, int] | None = None
    before: pd.DataFrame | None = None


async def _store(
    session: AsyncSession, store_id: int | None, result: RfmResult, now: datetime
) -> _Stored:
    counts = {segment: int(count) for segment, count in result.counts.items()}
    run_id = await session.scalar(
        insert(_runs)
        .values(
            store_id=store_id,
            model=result.model,
            as_of=result.as_of.isoformat(),
            customers=len(result.customers),
            counts=counts,
            created_at=now,
        )
        .returning(_runs.c.id)
    )
    assert run_id is not None
    current = pd.DataFrame(
        {
            "customer_id": result.customers["customer_id"].astype("int64").to_numpy(),
            "segment": result.customers["segment"].astype(str).to_numpy(),
        }
    )
    if len(current):
        await session.execute(
            insert(_members),
            [
                {"run_id": run_id, "customer_id": customer, "segment": segment}
                for customer, segment in zip(
                    current["customer_id"].tolist(), current["segment"].tolist(), strict=True
                )
            ],
        )
    scope = _same_scope(store_id, result.model)
    previous = (
        await session.execute(
            select(_runs.c.id, _runs.c.as_of, _runs.c.counts)
            .where(scope, _runs.c.id < run_id)
            .order_by(_runs.c.id.desc())
            .limit(1)
        )
    ).first()
    if previous is None:
        return _Stored(run_id, current, counts)
    rows = (
        await session.execute(
            select(_members.c.customer_id, _members.c.segment).where(
                _members.c.run_id == previous.id
            )
        )
    ).all()
    # Keep the members of this run and the previous one; older ones are not compared again.
    older = select(_runs.c.id).where(scope, _runs.c.id < previous.id)
    await session.execute(delete(_members).where(_members.c.run_id.in_(older)))
    return _Stored(
        run_id,
        current,
        counts,
        previous_run_id=previous.id,
        previous_as_of=date.fromisoformat(previous.as_of),
        previous_counts={str(k): int(v) for k, v in dict(previous.counts or {}).items()},
        before=pd.DataFrame(rows, columns=["customer_id", "segment"]),
    )


def _movement(result: RfmResult, stored: _Stored, top: int) -> RfmMovement:
    order = [segment.id for segment in SEGMENTS[result.model]]
    segments, moves, moved, arrivals, gone = compare_runs(
        stored.current, stored.before, stored.counts, stored.previous_counts, order, top
    )
    return RfmMovement(
        run_id=stored.run_id,
        as_of=result.as_of,
        model=result.model,
        customers=len(stored.current),
        previous_run_id=stored.previous_run_id,
        previous_as_of=stored.previous_as_of,
        segments=segments,
        moves=moves,
        moved=moved,
        arrivals=arrivals,
        gone=gone,
    )


def compare_runs(
    current: pd.DataFrame,
    before: pd.DataFrame | None,
    counts: dict[str, int],
    previous_counts: dict[str, int] | None,
    order: list[str],
    top: int = TOP_MOVES,
) -> tuple[tuple[SegmentCount, ...], tuple[SegmentMove, ...], int, tuple[SegmentMove, ...], int]:
    """Segment changes, the ``top`` biggest moves, how many moved, the arrivals, how many left.

    ``current`` and ``before`` have ``customer_id`` and ``segment``; ``before`` is None on the
    first run (no changes, moves or arrivals then). Ties are broken by the model's order.
    """
    segments = tuple(
        SegmentCount(
            segment,
            counts.get(segment, 0),
            None
            if previous_counts is None
            else counts.get(segment, 0) - previous_counts.get(segment, 0),
        )
        for segment in order
    )
    if before is None:
        return segments, (), 0, (), 0
    merged = current.merge(
        before.rename(columns={"segment": "source"}), on="customer_id", how="left", indicator=True
    )
    known = merged["_merge"] == "both"
    changed = merged[known & (merged["source"] != merged["segment"])]
    rank = {segment: i for i, segment in enumerate(order)}

    def ranked(pairs: pd.Series[Any]) -> list[SegmentMove]:
        items = []
        for key, n in pairs.items():
            source, target = cast(tuple[str, str], key)
            if n > 0:
                items.append(SegmentMove(str(source), str(target), int(n)))
        items.sort(
            key=lambda m: (
                -m.customers,
                rank.get(m.source, -1 if m.source == NEW else len(rank)),
                rank.get(m.target, len(rank)),
            )
        )
        return items

    pairs = changed.groupby(["source", "segment"], sort=False, observed=True).size()
    moves = ranked(pairs)[:top]
    new = merged.loc[~known, "segment"].value_counts(sort=False)
    arrivals = ranked(pd.Series({(NEW, segment): n for segment, n in new.items()}, dtype="int64"))
    gone = int((~before["customer_id"].isin(current["customer_id"])).sum())
    return segments, tuple(moves), len(changed), tuple(arrivals), gone
