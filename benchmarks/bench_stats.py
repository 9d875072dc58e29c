"""`o2o stats` on a million simulated orders: seconds and peak memory, against a naive baseline.

The database is made by `o2o simulate` (seed 1, history ending 2026-11-01). Measured, in the
same run, for the whole simulated period and all stores:

- the read-side layer (`bot.db.stats.load_report`: SQL aggregates + pandas off the event loop),
  which is what `o2o stats` and `/stats` run;
- a naive baseline: the period's orders and surveys loaded as ORM objects and the same headline
  figures summed in Python.

Seconds: the read-side layer's best of 3 runs, the baseline's one run, both without tracing. Peak
memory: tracemalloc's peak (Python and numpy allocations) in a separate traced run of each. The
two must agree on the headline figures (the row's goal; the command line stops otherwise).

Sizes: the full run is 60,000 customers over 365 days (about 1,036,000 orders; simulated once
into /tmp/bench1m.sqlite3 and reused, which bench_rfm.py reads too); the quick run simulates
10,000 customers over 120 days (about 70,000 orders) into a scratch file.

    .venv/bin/python benchmarks/bench_stats.py [--customers 60000] [--days 365] [--db PATH]
    .venv/bin/python benchmarks/bench_stats.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.table import Row
from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.db.stats import load_report
from bot.simulate import simulate

END = date(2026, 11, 1)
NOW = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
MILLION_DB = Path("/tmp/bench1m.sqlite3")  # noqa: S108  # shared with bench_rfm.py
T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    """How much history to simulate."""

    customers: int
    days: int


QUICK = Size(customers=10_000, days=120)
FULL = Size(customers=60_000, days=365)


@dataclass(frozen=True)
class Figures:
    """What one run measured: both sides' seconds and peak MiB, and whether they agree."""

    orders_in_database: int
    orders_in_period: int
    period: str
    fast_seconds: float
    fast_mib: float
    slow_seconds: float
    slow_mib: float
    disagreements: dict[str, tuple[Any, Any]]
    simulated_seconds: float | None


async def _timed(work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    started = time.perf_counter()
    result = await work()
    return result, time.perf_counter() - started


async def _peak_mib(work: Callable[[], Awaitable[Any]]) -> float:
    """tracemalloc's peak, in MiB, of one awaited call."""
    tracemalloc.start()
    try:
        await work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


async def _naive(
    sessionmaker: async_sessionmaker[AsyncSession], start: datetime, end: datetime
) -> dict[str, Any]:
    """The figures from ORM objects summed in Python: what the read-side layer replaces."""
    async with sessionmaker() as session:
        orders = list(
            await session.scalars(
                select(models.Order).where(
                    models.Order.placed_at >= start, models.Order.placed_at < end
                )
            )
        )
        surveys = list(
            await session.scalars(
                select(models.Survey)
                .join(models.Order, models.Survey.order_id == models.Order.id)
                .where(models.Order.placed_at >= start, models.Order.placed_at < end)
            )
        )
    completed = [o for o in orders if o.status == "completed"]
    durations = [
        (o.completed_at - o.placed_at).total_seconds() / 60
        for o in completed
        if o.completed_at is not None
    ]
    scores = [s.score for s in surveys if s.status == "answered" and s.score is not None]
    return {
        "orders_placed": len(orders),
        "orders_completed": len(completed),
        "orders_rejected": sum(1 for o in orders if o.status == "rejected"),
        "revenue_minor": sum(o.total_minor for o in completed),
        "apt_median_minutes": round(statistics.median(durations), 2) if durations else None,
        "csat_responses": len(scores),
    }


async def _simulate_into(url: str, size: Size) -> float:
    """Migrate and simulate `size` into an empty database; the seconds simulating took."""
    await upgrade_async(url)
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        await simulate(
            create_sessionmaker(engine), customers=size.customers, days=size.days, seed=1, end=END
        )
    finally:
        await engine.dispose()
    return time.perf_counter() - started


def prepare(path: Path, size: Size) -> float | None:
    """Simulate `size` into `path` unless it exists; the seconds it took (None: reused)."""
    if path.exists():
        return None
    # Written under another name first, so an interrupted run never leaves a partial history.
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    seconds = asyncio.run(_simulate_into(f"sqlite+aiosqlite:///{partial.resolve()}", size))
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(path)
    return seconds


async def _compare(url: str, size: Size) -> Figures:
    """Both ways on the database's whole simulated period."""
    await upgrade_async(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    period = f"{size.days}d"
    try:
        async with sessionmaker() as session:
            total = int(await session.scalar(select(func.count()).select_from(models.Order)) or 0)

        def fast() -> Awaitable[Any]:
            return load_report(engine, period, None, NOW)

        report, fast_seconds = await _timed(fast)
        for _ in range(2):
            fast_seconds = min(fast_seconds, (await _timed(fast))[1])
        fast_mib = await _peak_mib(fast)
        start, end = report.period.start, report.period.end

        def slow() -> Awaitable[dict[str, Any]]:
            return _naive(sessionmaker, start, end)

        naive, slow_seconds = await _timed(slow)
        slow_mib = await _peak_mib(slow)
    finally:
        await engine.dispose()
    figures = report.current.to_json()
    return Figures(
        orders_in_database=total,
        orders_in_period=int(naive["orders_placed"]),
        period=period,
        fast_seconds=fast_seconds,
        fast_mib=fast_mib,
        slow_seconds=slow_seconds,
        slow_mib=slow_mib,
        disagreements={
            key: (figures[key], value) for key, value in naive.items() if figures[key] != value
        },
        simulated_seconds=None,
    )


def run(path: Path, size: Size) -> Figures:
    """Simulate (unless the database exists), then measure both ways on its whole period."""
    simulated = prepare(path, size)
    figures = asyncio.run(_compare(f"sqlite+aiosqlite:///{path.resolve()}", size))
    return replace(figures, simulated_seconds=simulated)


def row_from(size: Size, figures: Figures) -> Row:
    """The stats row: the read-side layer's seconds against the naive baseline's."""
    speedup = figures.slow_seconds / figures.fast_seconds
    return Row(
        name="stats",
        what=(
            f"`o2o stats`'s query + KPI computation (`load_report`, all stores, period "
            f"{figures.period}) on {figures.orders_in_database:,} orders made by `o2o simulate "
            f"--customers {size.customers} --days {size.days} --seed 1`, best of 3; baseline = "
            "the period's orders and surveys loaded as ORM objects and summed in Python; peak = "
            "tracemalloc in a separate run"
        ),
        baseline=f"{figures.slow_seconds:.2f} s, peak {figures.slow_mib:,.0f} MiB",
        measured=(
            f"{figures.fast_seconds:.2f} s, peak {figures.fast_mib:,.0f} MiB "
            f"({speedup:.1f}x faster)"
        ),
        ratio=figures.fast_seconds / figures.slow_seconds,
        goal="same figures as the baseline",
        met=not figures.disagreements,
        numbers={
            "read_side_seconds": figures.fast_seconds,
            "read_side_peak_mib": figures.fast_mib,
            "naive_seconds": figures.slow_seconds,
            "naive_peak_mib": figures.slow_mib,
            "speedup": speedup,
            "orders_in_database": figures.orders_in_database,
            "orders_in_period": figures.orders_in_period,
            "disagreements": len(figures.disagreements),
            "customers": size.customers,
            "days": size.days,
            **(
                {"simulate_seconds": figures.simulated_seconds}
                if figures.simulated_seconds is not None
                else {}
            ),
        },
    )


def measure(quick: bool) -> list[Row]:
    """The stats row: quick on ~70,000 orders in a scratch file, else the simulated million."""
    if not quick:
        return [row_from(FULL, run(MILLION_DB, FULL))]
    with tempfile.TemporaryDirectory() as scratch:
        figures = run(Path(scratch) / "stats.sqlite3", QUICK)
    return [row_from(QUICK, figures)]


def main(size: Size, db: str | None) -> None:
    """Simulate (unless the database exists), measure both ways, print one table."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(db) if db else Path(scratch) / "stats.sqlite3"
        figures = run(path, size)
    if figures.simulated_seconds is not None:
        print(f"simulated in {figures.simulated_seconds:.0f} s")
    if figures.disagreements:
        raise SystemExit(f"the two disagree (read-side, naive): {figures.disagreements}")
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; "
        f"{figures.orders_in_database:,} orders in the database, "
        f"{figures.orders_in_period:,} in the period {figures.period}"
    )
    print(f"{'':<40} {'seconds':>8} {'peak MiB':>9}")
    print(
        f"{'naive (ORM objects, Python sums)':<40} {figures.slow_seconds:8.2f} "
        f"{figures.slow_mib:9.0f}"
    )
    print(
        f"{'read-side layer (o2o stats)':<40} {figures.fast_seconds:8.2f} {figures.fast_mib:9.0f}"
    )
    print(
        f"speed-up: {figures.slow_seconds / figures.fast_seconds:.1f}x; memory: "
        f"{figures.fast_mib / figures.slow_mib:.2f} of the baseline"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=FULL.customers)
    parser.add_argument("--days", type=int, default=FULL.days)
    parser.add_argument("--db", help="SQLite file to keep (reused when it exists)")
    parser.add_argument("--quick", action="store_true", help="10,000 customers over 120 days")
    arguments = parser.parse_args()
    main(QUICK if arguments.quick else Size(arguments.customers, arguments.days), arguments.db)
